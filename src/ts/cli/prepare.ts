#!/usr/bin/env node
/** `liverseg-prepare`: writes the resized/ and foreground/ datasets the two-stage scheme trains on. */
import { parseArgs } from 'util';
import { prepareDatasets } from '../engines/prepare';
import type { Vec3 } from '../volume';
import { runCli, UsageError } from './run';

const USAGE = `Usage: liverseg-prepare --data DIR --out DIR [--coarse-size 128,128,128] [--margin 30] [--only resized|foreground] [--overwrite]

From an MSD folder, writes DIR/resized (whole volumes in RAS order resized to the coarse size; images area,
labels nearest) and DIR/foreground (volumes cropped to the liver box plus a margin, boxes recorded), each an
MSD folder with its own dataset.json. Cases already written are skipped; a failing case is reported and the
others go on; the exit status is 1 if any case failed.`;

function size3(v: string): Vec3 {
  const p = v.split(/[,x]/).map(Number);
  const s = p.length === 1 ? [p[0], p[0], p[0]] : p;
  if (s.length !== 3 || !s.every((x) => Number.isInteger(x) && x > 0)) throw new UsageError(`--coarse-size expects 3 positive integers, got '${v}'`);
  return s as Vec3;
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: 'string' },
      out: { type: 'string' },
      'coarse-size': { type: 'string' },
      margin: { type: 'string' },
      only: { type: 'string' },
      overwrite: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (!values.data || !values.out) throw new UsageError('--data and --out are required');
  const margin = values.margin === undefined ? 30 : Number(values.margin);
  if (!Number.isInteger(margin) || margin < 0) throw new UsageError(`--margin expects a non-negative integer, got '${values.margin}'`);
  if (values.only && values.only !== 'resized' && values.only !== 'foreground') throw new UsageError(`--only expects 'resized' or 'foreground'`);
  const t0 = Date.now();
  const r = await prepareDatasets(values.data, values.out, {
    coarseSize: values['coarse-size'] ? size3(values['coarse-size']) : undefined,
    margin,
    outputs: values.only ? [values.only as 'resized' | 'foreground'] : undefined,
    overwrite: values.overwrite,
    onCase: (e) =>
      process.stderr.write(`[${e.index + 1}/${e.total}] ${e.name}: ${e.status}${e.error ? ` (${e.error.message})` : ''} ${(e.ms / 1000).toFixed(1)}s\n`),
  });
  process.stdout.write(
    `liverseg-prepare: ${r.done} written, ${r.skipped} skipped, ${r.failed.length} failed in ${((Date.now() - t0) / 1000).toFixed(1)}s` +
      `${r.resized ? `; resized: ${r.resized}` : ''}${r.foreground ? `; foreground: ${r.foreground}` : ''}\n`,
  );
  for (const f of r.failed) process.stderr.write(`  failed: ${f.name}: ${f.error}\n`);
  return r.failed.length > 0 ? 1 : 0;
}

if (require.main === module) runCli('liverseg-prepare', main);
