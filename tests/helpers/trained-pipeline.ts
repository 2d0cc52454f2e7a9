/**
 * One small two-stage pipeline trained on phantoms, shared by the test files of one jest run:
 * the first file that asks trains it into the run's folder (made by tests/global-setup.js),
 * later files reuse it.
 */
import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writePhantomDataset } from '../../src/ts/data/phantom-dataset';
import { createProgress } from '../../src/ts/engines/progress';
import { train, TrainResult } from '../../src/ts/engines/trainer';
import { testDevice } from './device';

export interface TrainedPipeline {
  root: string;
  pipeline: string;
  result: Pick<TrainResult, 'stages' | 'pipeline'>;
  /** Phantoms the models never saw (MSD folder). */
  unseen: string;
  trainSeconds: number;
}

const ENV = 'LIVERSEG_TEST_PIPELINE_DIR';

/** Phantom size and training settings: small enough for CI on 2 cores, large enough to learn. */
export const PHANTOM_SHAPE = [96, 96, 48];
export const TRAIN_SETTINGS = {
  stage: 'two-stage' as const,
  epochs: 20,
  channels: [8, 16, 32, 64],
  coarseSize: [48, 48, 32] as [number, number, number],
  patchSize: [48, 48, 32] as [number, number, number],
  cropsPerVolume: 2,
  margin: 8,
  lr: 0.01,
  scheduler: 'warmup-cosine' as const,
  warmupEpochs: 2,
  valRatio: 0.2,
  valInterval: 5,
  seed: 1,
};

export async function trainedPipeline(): Promise<TrainedPipeline> {
  const shared = process.env[ENV];
  if (shared) {
    try {
      return JSON.parse(await fsp.readFile(path.join(shared, 'summary.json'), 'utf8')) as TrainedPipeline;
    } catch {
      // not trained yet in this run (or a file that trained it failed half-way): train below
    }
  }
  const root = shared ?? (await fsp.mkdtemp(path.join(os.tmpdir(), 'liverseg-pipeline-')));
  await fsp.rm(path.join(root, 'run'), { recursive: true, force: true });
  const data = path.join(root, 'phantoms');
  const unseen = path.join(root, 'unseen');
  await writePhantomDataset(data, { count: 14, shape: PHANTOM_SHAPE, seed: 1 });
  await writePhantomDataset(unseen, { count: 3, shape: PHANTOM_SHAPE, seed: 777 });
  const t0 = Date.now();
  const result = await train(
    { ...TRAIN_SETTINGS, data, output: path.join(root, 'run'), device: testDevice },
    { progress: createProgress(process.stderr, true) },
  );
  const summary: TrainedPipeline = {
    root,
    pipeline: result.pipeline!,
    result: { stages: result.stages, pipeline: result.pipeline },
    unseen,
    trainSeconds: (Date.now() - t0) / 1000,
  };
  await fsp.writeFile(path.join(root, 'summary.json'), JSON.stringify(summary));
  return summary;
}
