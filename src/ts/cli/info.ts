#!/usr/bin/env node
/** `liverseg-info`: the backend (LibTorch, CUDA, threads), or what a model bundle or pipeline is. */
import { parseArgs } from 'util';
import { bundleKind, readModelBundle, readPipeline } from '../bundle';
import { parameterCount } from '../nets/config';
import { backend } from '../native/loader';
import { runCli } from './run';

const USAGE = `Usage: liverseg-info [MODEL.json]

Without an argument: prints the native backend (LibTorch version, CUDA, threads) as JSON.
With a model bundle or pipeline JSON: prints what it is (stage, architecture, parameters, intensity window,
input size, validation score, how it was trained).`;

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (positionals.length === 0) {
    process.stdout.write(JSON.stringify(backend(), null, 2) + '\n');
    return 0;
  }
  const path = positionals[0];
  if ((await bundleKind(path)) === 'pipeline') {
    const p = await readPipeline(path);
    const coarse = await readModelBundle(p.coarsePath);
    const fine = await readModelBundle(p.finePath);
    process.stdout.write(JSON.stringify({ kind: 'pipeline', margin: p.margin, coarse: { path: p.coarsePath, ...coarse }, fine: { path: p.finePath, ...fine } }, null, 2) + '\n');
    return 0;
  }
  const b = await readModelBundle(path);
  process.stdout.write(JSON.stringify({ kind: 'model', parameters: parameterCount(b.config), ...b }, null, 2) + '\n');
  return 0;
}

if (require.main === module) runCli('liverseg-info', main);
