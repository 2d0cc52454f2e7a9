/**
 * What one training stage is, before it runs: its data, output folder, sizes, transforms,
 * schedule and model settings, all derived from the resolved config. The stage loop only
 * executes a plan.
 */
import * as nodePath from 'path';
import { DEFAULT_INTENSITY, IntensityWindowConfig, ModelOptions } from '../nets/config';
import {
  EnsureBinaryLabeld,
  Orientationd,
  RandAffined,
  RandCropByPosNegLabeld,
  RandFlipd,
  RandGaussianNoised,
  RandRotate90d,
  RandScaleIntensityd,
  RandShiftIntensityd,
  ScaleIntensityRanged,
  SpatialPadd,
} from '../transforms';
import type { Transform } from '../transforms/types';
import type { Vec3 } from '../volume';
import type { TrainConfig } from './config';
import { makeSchedule, LrSchedule } from './schedulers';

export type StageKind = 'single' | 'coarse' | 'fine';

/** What differs between the three kinds of stage. */
export interface StagePlan {
  kind: StageKind;
  dataDir: string;
  outDir: string;
  epochs: number;
  /** coarse: the whole-volume size; single/fine: the patch and window size. */
  inputSize: Vec3;
  /** Validation by sliding windows (patch-trained) or one pass (coarse). */
  slidingValidation: boolean;
}

export function stagePlan(c: TrainConfig, kind: StageKind, dataDir: string, epochs: number): StagePlan {
  return {
    kind,
    dataDir,
    outDir: nodePath.join(c.output, kind),
    epochs,
    inputSize: kind === 'coarse' ? c.coarseSize : c.patchSize,
    slidingValidation: kind !== 'coarse',
  };
}

export function intensityOf(c: TrainConfig): IntensityWindowConfig {
  return { ...DEFAULT_INTENSITY, aMin: c.aMin, aMax: c.aMax };
}

function augmentations(): Transform[] {
  const keys = ['image', 'label'];
  return [
    new RandFlipd({ keys, prob: 0.5, spatialAxis: 0 }),
    new RandRotate90d({ keys, prob: 0.25, maxK: 3, spatialAxes: [0, 1] }),
    new RandAffined({ keys, prob: 0.3, rotateRange: [0.15, 0.15, 0.15], scaleRange: [0.1, 0.1, 0.1] }),
    new RandScaleIntensityd({ keys: ['image'], factors: 0.1, prob: 0.5 }),
    new RandShiftIntensityd({ keys: ['image'], offsets: 0.1, prob: 0.5 }),
    new RandGaussianNoised({ keys: ['image'], prob: 0.2, std: 0.02 }),
  ];
}

/** Head (deterministic, cached) and training tail of a stage. Prepared sets are already RAS. */
export function stageTransforms(plan: StagePlan, c: TrainConfig): { head: Transform[]; train: Transform[] } {
  const w = intensityOf(c);
  const head: Transform[] = [];
  if (plan.kind === 'single') head.push(new Orientationd({ keys: ['image', 'label'], axcodes: 'RAS' }));
  head.push(new EnsureBinaryLabeld({ keys: ['label'] }));
  head.push(new ScaleIntensityRanged({ keys: ['image'], ...w }));
  const train: Transform[] = [];
  if (plan.kind !== 'coarse') {
    head.push(new SpatialPadd({ keys: ['image', 'label'], size: plan.inputSize }));
    train.push(new RandCropByPosNegLabeld({ keys: ['image', 'label'], labelKey: 'label', size: plan.inputSize, numSamples: c.cropsPerVolume, pos: 1, neg: 1 }));
  }
  if (c.augment) train.push(...augmentations());
  return { head, train };
}

/**
 * The settings a resumed run must share with the interrupted one for the result to be the same.
 * `batchSize` is the global batch (batchSize x worldSize): a run may resume with another world
 * size as long as the global batch, and so every step, stays the same.
 */
export function stageConfigKey(plan: StagePlan, c: TrainConfig, worldSize = 1): Record<string, unknown> {
  return {
    kind: plan.kind,
    data: nodePath.resolve(plan.dataDir),
    channels: c.channels,
    block: c.block,
    dropout: c.dropout,
    optimizer: c.optimizer,
    lr: c.lr,
    weightDecay: c.weightDecay,
    scheduler: c.scheduler,
    t0: c.t0,
    tMult: c.tMult,
    warmupEpochs: c.warmupEpochs,
    epochs: plan.epochs,
    inputSize: plan.inputSize,
    cropsPerVolume: c.cropsPerVolume,
    batchSize: c.batchSize * worldSize,
    seed: c.seed,
    augment: c.augment,
    valRatio: c.valRatio,
    valCases: c.valCases,
    folds: c.folds,
    fold: c.fold,
  };
}

export function stageSchedule(plan: StagePlan, c: TrainConfig): LrSchedule {
  return makeSchedule(
    c.scheduler === 'cosine-restarts'
      ? { name: 'cosine-restarts', t0: c.t0, tMult: c.tMult, etaMin: c.etaMin }
      : c.scheduler === 'warmup-cosine'
        ? { name: 'warmup-cosine', warmupEpochs: c.warmupEpochs, etaMin: c.etaMin }
        : { name: 'constant' },
    c.lr,
    plan.epochs,
  );
}

export function stageModelOptions(c: TrainConfig): ModelOptions {
  return {
    channels: c.channels,
    block: c.block,
    dropout: c.dropout,
    device: c.device,
    precision: c.precision,
    seed: c.seed,
    optimizer: { name: c.optimizer, lr: c.lr, weightDecay: c.weightDecay },
  };
}
