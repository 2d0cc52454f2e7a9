#!/usr/bin/env node
/**
 * `liverseg-segment`: CT file(s) in, liver mask file(s) out.
 *   liverseg-segment -m pipeline.json ct.nii.gz -o liver.nii.gz
 *   liverseg-segment -m pipeline.json cts/ -o masks/ [--labels labels/]
 */
import { promises as fsp } from 'fs';
import * as nodePath from 'path';
import { parseArgs } from 'util';
import { loadVolume } from '../io/nifti-read';
import { saveVolume } from '../io/nifti-write';
import { maskDice } from '../metrics/dice';
import { loadPipeline } from '../inferers/pipeline';
import { segment } from '../inferers/segment';
import { runCli, UsageError } from './run';

const USAGE = `Usage: liverseg-segment -m MODEL INPUT -o OUTPUT [options]

Segments the liver in CT volumes (NIfTI .nii or .nii.gz). MODEL is a pipeline JSON (coarse + fine) or a
single model bundle. INPUT is a file (OUTPUT a file) or a folder (OUTPUT a folder; one mask per CT, same name).
Masks are uint8 (1 = liver) in the CT's exact geometry.

Options:
  -m, --model FILE          pipeline.json or a model bundle JSON (required)
  -o, --output PATH         output file or folder (required)
  --labels DIR              also print each case's Dice against DIR/<same name>, and the mean
  --device D                auto | cpu | cuda | cuda:N (default: LIVERSEG_DEVICE or auto)
  --overlap X               sliding-window overlap in [0, 1) (default 0.25)
  --windows-per-batch N     windows per forward pass (default 1 on the CPU, 4 on CUDA)
  --mirror                  test-time mirroring (8 passes per window)
  --no-largest              keep every component, not only the largest
  -h, --help                this text`;

const NIFTI = /\.nii(\.gz)?$/i;

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string', short: 'm' },
      output: { type: 'string', short: 'o' },
      labels: { type: 'string' },
      device: { type: 'string' },
      overlap: { type: 'string' },
      'windows-per-batch': { type: 'string' },
      mirror: { type: 'boolean' },
      'no-largest': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (!values.model) throw new UsageError('-m/--model is required');
  if (!values.output) throw new UsageError('-o/--output is required');
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'an input file or folder is required' : 'give one input file or folder');
  const overlap = values.overlap === undefined ? undefined : Number(values.overlap);
  const wpb = values['windows-per-batch'] === undefined ? undefined : Number(values['windows-per-batch']);
  const input = positionals[0];
  let stat;
  try {
    stat = await fsp.stat(input);
  } catch {
    throw new UsageError(`${input}: no such file or folder`);
  }
  const jobs: Array<{ name: string; input: string; output: string }> = [];
  if (stat.isDirectory()) {
    const files = (await fsp.readdir(input)).filter((f) => NIFTI.test(f)).sort();
    if (files.length === 0) throw new UsageError(`${input}: no .nii or .nii.gz files`);
    await fsp.mkdir(values.output, { recursive: true });
    for (const f of files) jobs.push({ name: f, input: nodePath.join(input, f), output: nodePath.join(values.output, f) });
  } else {
    jobs.push({ name: nodePath.basename(input), input, output: values.output });
  }
  const pipeline = await loadPipeline(values.model, { device: values.device });
  const scores: number[] = [];
  let failed = 0;
  for (const [n, job] of jobs.entries()) {
    const t0 = Date.now();
    try {
      const mask = await segment(job.input, {
        model: pipeline,
        overlap,
        windowsPerBatch: wpb,
        mirror: values.mirror ?? false,
        keepLargestComponent: !values['no-largest'],
      });
      await saveVolume(job.output, mask);
      let line = `[${n + 1}/${jobs.length}] ${job.name}: ${(Date.now() - t0) / 1000}s (coarse ${(mask.timings.coarse / 1000).toFixed(2)}s, fine ${(mask.timings.fine / 1000).toFixed(2)}s)${mask.liverFound ? '' : ' no liver found'} -> ${job.output}`;
      if (values.labels) {
        const label = await loadVolume(nodePath.join(values.labels, job.name));
        const d = maskDice(mask.data, label.data);
        scores.push(d);
        line += ` Dice ${Number.isNaN(d) ? 'n/a (empty label)' : d.toFixed(4)}`;
      }
      process.stdout.write(line + '\n');
    } catch (e) {
      if (jobs.length === 1) throw e;
      failed++;
      process.stderr.write(`[${n + 1}/${jobs.length}] ${job.name}: failed: ${(e as Error).message.split('\n')[0]}\n`);
    }
  }
  if (values.labels) {
    const finite = scores.filter(Number.isFinite);
    const mean = finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : NaN;
    process.stdout.write(`mean Dice over ${finite.length} case(s): ${Number.isNaN(mean) ? 'n/a' : mean.toFixed(4)}\n`);
  }
  return failed > 0 ? 1 : 0;
}

if (require.main === module) runCli('liverseg-segment', main);
