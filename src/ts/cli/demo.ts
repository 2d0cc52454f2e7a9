#!/usr/bin/env node
/**
 * The README's demo: makes a small phantom set, trains a two-stage pipeline briefly on the CPU,
 * then segments a phantom it never saw and the real CT sample, printing the Dice of each and
 * where the masks went. A model trained on phantoms is a demonstration, not a clinical model.
 */
import { promises as fsp } from 'fs';
import * as nodePath from 'path';
import { parseArgs } from 'util';
import { writePhantomDataset } from '../data/phantom-dataset';
import { train } from '../engines/trainer';
import { formatDuration } from '../engines/progress';
import { maskDice } from '../metrics/dice';
import { segment } from '../inferers/segment';
import { loadVolume } from '../io/nifti-read';
import { saveVolume } from '../io/nifti-write';
import { backend } from '../native/loader';
import { packageRoot } from '../util/package';
import { runCli } from './run';
import { pathExists } from '../util/fs';

const USAGE = `Usage: npm run demo [-- --out DIR] [--retrain] [--epochs N] [--cases N]

Makes synthetic CT phantoms, trains a small two-stage (coarse + fine) pipeline on the CPU, and segments
an unseen phantom and the real CT sample. Reuses a pipeline trained by an earlier run unless --retrain.`;

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      retrain: { type: 'boolean' },
      epochs: { type: 'string' },
      cases: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const root = packageRoot();
  const out = nodePath.resolve(values.out ?? nodePath.join(root, 'demo-output'));
  const epochs = Number(values.epochs ?? 20);
  const cases = Number(values.cases ?? 14);
  const say = (s: string) => process.stdout.write(s + '\n');
  const b = backend();
  say(`liverseg demo: LibTorch ${b.torchVersion}, device ${b.defaultDevice}, ${b.threads} threads; output in ${out}`);
  const t0 = Date.now();

  const phantoms = nodePath.join(out, 'phantoms');
  const unseen = nodePath.join(out, 'unseen');
  const shape = [96, 96, 48];
  if (values.retrain || !(await pathExists(nodePath.join(phantoms, 'dataset.json')))) {
    say(`1/4 writing ${cases} training phantoms (${shape.join('x')}) to ${phantoms}`);
    await writePhantomDataset(phantoms, { count: cases, shape, seed: 1 });
  } else say('1/4 training phantoms already there');
  if (!(await pathExists(nodePath.join(unseen, 'dataset.json')))) await writePhantomDataset(unseen, { count: 1, shape, seed: 4242 });

  const runDir = nodePath.join(out, 'run');
  const pipelinePath = nodePath.join(runDir, 'pipeline.json');
  if (values.retrain || !(await pathExists(pipelinePath))) {
    say(`2/4 training a two-stage pipeline for ${epochs} epochs per stage (a few minutes on 2 cores)`);
    await fsp.rm(runDir, { recursive: true, force: true });
    const r = await train({
      stage: 'two-stage',
      data: phantoms,
      output: runDir,
      epochs,
      channels: [8, 16, 32, 64],
      coarseSize: [48, 48, 32],
      patchSize: [48, 48, 32],
      cropsPerVolume: 2,
      margin: 8,
      lr: 0.01,
      scheduler: 'warmup-cosine',
      warmupEpochs: 2,
      valRatio: 0.2,
      valInterval: 5,
      device: process.env.LIVERSEG_DEVICE ?? 'auto',
    });
    for (const s of r.stages)
      say(`   ${s.stage}: best validation Dice ${s.bestDice?.toFixed(4) ?? 'n/a'} at epoch ${s.bestEpoch} in ${formatDuration(s.seconds)}`);
  } else say(`2/4 reusing the pipeline trained earlier (${pipelinePath}); --retrain to train again`);

  say('3/4 segmenting a phantom the model never saw');
  const ds = JSON.parse(await fsp.readFile(nodePath.join(unseen, 'dataset.json'), 'utf8')) as { training: { image: string; label: string }[] };
  const img = nodePath.resolve(unseen, ds.training[0].image);
  const lab = nodePath.resolve(unseen, ds.training[0].label);
  const mask = await segment(img, { model: pipelinePath });
  const maskPath = nodePath.join(out, 'unseen-phantom-liver.nii.gz');
  await saveVolume(maskPath, mask);
  const d1 = maskDice(mask.data, (await loadVolume(lab)).data);
  say(`   Dice ${d1.toFixed(4)} in ${formatDuration(mask.timings.total / 1000)}; mask: ${maskPath}`);

  say('4/4 segmenting the real CT sample (one patient, TotalSegmentator reference mask)');
  const ct = nodePath.join(root, 'tests', 'fixtures', 'ct-sample', 'imagesTr', 'ct_sample.nii.gz');
  if (await pathExists(ct)) {
    const real = await segment(ct, { model: pipelinePath });
    const realPath = nodePath.join(out, 'ct-sample-liver.nii.gz');
    await saveVolume(realPath, real);
    const ref = await loadVolume(nodePath.join(root, 'tests', 'fixtures', 'ct-sample', 'labelsTr', 'ct_sample.nii.gz'));
    const d2 = maskDice(real.data, ref.data);
    say(`   Dice ${d2.toFixed(4)} (liver found: ${real.liverFound}) in ${formatDuration(real.timings.total / 1000)}; mask: ${realPath}`);
  } else say('   the CT sample is not in this installation (it ships with the repository); skipped');
  say(`done in ${formatDuration((Date.now() - t0) / 1000)}.`);
  say(
    'Note: this model was trained for minutes on synthetic phantoms. It demonstrates the pipeline; it is not a clinical model, and its result on real CT says nothing about a properly trained one.',
  );
  return 0;
}

if (require.main === module) runCli('liverseg-demo', main);
