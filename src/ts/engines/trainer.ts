/**
 * The training loop behind `liverseg-train` and `train()`: one-stage, coarse, fine and the full
 * two-stage scheme. Per epoch: average loss, learning rate and step time; every valInterval
 * epochs, whole-volume validation (sliding windows for patch-trained models) and DiceMetric; the
 * best bundle kept by validation Dice; a `last` checkpoint for exact resumption; metrics.jsonl and
 * a chart. Everything random derives from the seed and the epoch number, so a resumed run repeats
 * an uninterrupted one.
 */
import { promises as fsp } from 'fs';
import * as nodePath from 'path';
import { performance } from 'perf_hooks';
import { LiversegError } from '../errors';
import { DEFAULT_INTENSITY, IntensityWindowConfig, writeBytesAtomic, writePipeline } from '../io/bundle';
import { CacheDataset } from '../data/cache-dataset';
import { DataLoader } from '../data/loader';
import { loadMsdDataset } from '../data/msd';
import { prepareDatasets } from '../data/prepare';
import { deriveRngState } from '../data/seeds';
import { splitCases } from '../data/split';
import { maskDice } from '../inferers/dice';
import { loadBinding } from '../native/loader';
import type { Size3 } from '../native/tensors';
import { saveModel } from '../nets/bundle-model';
import { ResUNet } from '../nets/resunet';
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
import { metricsChartSvg, EpochMetrics } from './chart';
import { loadCheckpoint, saveCheckpoint } from './checkpoint';
import { resolveTrainConfig, TrainConfig } from './config';
import { createProgress, formatDuration, ProgressReporter } from './progress';
import { makeSchedule } from './schedulers';

export type StageKind = 'single' | 'coarse' | 'fine';

export interface EpochReport extends EpochMetrics {
  stage: StageKind;
  epochs: number;
  bestDice: number | null;
  bestEpoch: number | null;
}

export interface TrainOptions {
  /** Called after every epoch (after validation and checkpointing). */
  onEpoch?: (report: EpochReport) => void;
  /** Aborting saves `last` at the end of the running step and resolves with `interrupted: true`. */
  signal?: AbortSignal;
  /** Where progress goes; default a bar on a terminal, plain lines otherwise, on stderr. */
  progress?: ProgressReporter;
}

export interface StageResult {
  stage: StageKind;
  /** The best bundle (by validation Dice; the last epoch's weights when there is no validation set). */
  bundle: string;
  /** The last checkpoint's JSON. */
  last: string;
  bestDice: number | null;
  bestEpoch: number | null;
  epochsRun: number;
  seconds: number;
  peakRssMiB: number;
  interrupted: boolean;
}

export interface TrainResult {
  stages: StageResult[];
  /** pipeline.json of a two-stage run. */
  pipeline?: string;
  interrupted: boolean;
  config: TrainConfig;
}

/** What differs between the three kinds of stage. */
interface StagePlan {
  kind: StageKind;
  dataDir: string;
  outDir: string;
  epochs: number;
  /** coarse: the whole-volume size; single/fine: the patch and window size. */
  inputSize: Vec3;
  /** Validation by sliding windows (patch-trained) or one pass (coarse). */
  slidingValidation: boolean;
}

function intensityOf(c: TrainConfig): IntensityWindowConfig {
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
function transforms(plan: StagePlan, c: TrainConfig): { head: Transform[]; train: Transform[] } {
  const head: Transform[] = [];
  if (plan.kind === 'single') head.push(new Orientationd({ keys: ['image', 'label'], axcodes: 'RAS' }));
  head.push(new EnsureBinaryLabeld({ keys: ['label'] }));
  head.push(new ScaleIntensityRanged({ keys: ['image'], aMin: c.aMin, aMax: c.aMax, bMin: 0, bMax: 1, clip: true }));
  const train: Transform[] = [];
  if (plan.kind !== 'coarse') {
    head.push(new SpatialPadd({ keys: ['image', 'label'], size: plan.inputSize }));
    train.push(new RandCropByPosNegLabeld({ keys: ['image', 'label'], labelKey: 'label', size: plan.inputSize, numSamples: c.cropsPerVolume, pos: 1, neg: 1 }));
  }
  if (c.augment) train.push(...augmentations());
  return { head, train };
}

function stageConfigKey(plan: StagePlan, c: TrainConfig): Record<string, unknown> {
  // The settings a resumed run must share with the interrupted one for the result to be the same.
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
    batchSize: c.batchSize,
    seed: c.seed,
    augment: c.augment,
    valRatio: c.valRatio,
    valCases: c.valCases,
    folds: c.folds,
    fold: c.fold,
  };
}

async function runStage(plan: StagePlan, c: TrainConfig, options: TrainOptions, progress: ProgressReporter): Promise<StageResult> {
  const t0 = performance.now();
  await fsp.mkdir(plan.outDir, { recursive: true });
  const ds = await loadMsdDataset(plan.dataDir);
  const split = splitCases(
    ds.training,
    c.valCases.length > 0 ? { val: c.valCases } : c.folds > 1 ? { folds: c.folds, fold: c.fold, seed: c.seed } : { valRatio: c.valRatio, seed: c.seed },
  );
  if (split.train.length === 0) throw new LiversegError('ERR_INVALID_CONFIG', `Invalid config field 'valRatio': no training cases left in ${plan.dataDir}`);
  const { head, train: tail } = transforms(plan, c);
  const trainSet = new CacheDataset(split.train, [...head, ...tail], {
    cacheRate: c.cacheRate,
    onProgress: (p) => progress.step(p.done, p.total, `caching ${plan.kind} training cases (${(p.bytes / 2 ** 20).toFixed(0)} MiB)`),
  });
  const valSet = new CacheDataset(split.val, head, { cacheRate: 1 });
  await trainSet.init();
  await valSet.init();
  progress.line(
    `[${plan.kind}] ${split.train.length} training / ${split.val.length} validation cases from ${plan.dataDir}; cache ${(trainSet.cacheBytes / 2 ** 20).toFixed(1)} MiB`,
  );

  // Check sizes before any training step: a volume smaller than the network can take is padded, but a
  // coarse volume must have the coarse size the bundle will record.
  const first = await valSet.getSamples(0).catch(() => undefined);
  if (plan.kind === 'coarse' && first && first[0].image.shape.some((s, a) => s !== plan.inputSize[a])) {
    throw new LiversegError('ERR_INVALID_CONFIG', `Invalid config field 'coarseSize': the coarse data in ${plan.dataDir} is ${first[0].image.shape.join('x')}, not ${plan.inputSize.join('x')}`);
  }

  const net = await ResUNet.create({
    channels: c.channels,
    block: c.block,
    dropout: c.dropout,
    device: c.device,
    precision: c.precision,
    seed: c.seed,
    optimizer: { name: c.optimizer, lr: c.lr, weightDecay: c.weightDecay },
  });
  const loader = new DataLoader(trainSet, { batchSize: c.batchSize, shuffle: true, seed: c.seed, numWorkers: c.workers });
  const schedule = makeSchedule(
    c.scheduler === 'cosine-restarts'
      ? { name: 'cosine-restarts', t0: c.t0, tMult: c.tMult, etaMin: c.etaMin }
      : c.scheduler === 'warmup-cosine'
        ? { name: 'warmup-cosine', warmupEpochs: c.warmupEpochs, etaMin: c.etaMin }
        : { name: 'constant' },
    c.lr,
    plan.epochs,
  );
  const lastPath = nodePath.join(plan.outDir, 'last.json');
  const bestPath = nodePath.join(plan.outDir, 'best.json');
  const metricsPath = nodePath.join(plan.outDir, 'metrics.jsonl');
  const key = stageConfigKey(plan, c);
  let startEpoch = 0;
  let bestDice: number | null = null;
  let bestEpoch: number | null = null;
  let elapsedBefore = 0;
  let rows: EpochMetrics[] = [];
  if (c.resume) {
    const exists = await fsp.stat(lastPath).then(() => true, () => false);
    if (exists) {
      const ck = await loadCheckpoint(lastPath);
      if (JSON.stringify(ck.state.stageConfig) !== JSON.stringify(key)) {
        throw new LiversegError('ERR_INVALID_CONFIG', `${lastPath}: the checkpoint was made with other settings; resume with the same configuration or train into a new output folder`);
      }
      await net.setWeights(ck.weights);
      await net.setOptimizerState(ck.optimizer);
      startEpoch = ck.state.epoch;
      bestDice = ck.state.bestDice;
      bestEpoch = ck.state.bestEpoch;
      elapsedBefore = ck.state.elapsedSeconds;
      progress.line(`[${plan.kind}] resuming after epoch ${startEpoch} (best Dice ${bestDice ?? 'n/a'})`);
    }
  }
  // metrics.jsonl keeps only the epochs the checkpoint covers, so a resumed log has no duplicates.
  try {
    rows = (await fsp.readFile(metricsPath, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as EpochMetrics)
      .filter((r) => r.epoch <= startEpoch);
  } catch {
    rows = [];
  }

  const binding = loadBinding();
  const intensity = intensityOf(c);
  const voxelsPerSample = plan.inputSize[0] * plan.inputSize[1] * plan.inputSize[2];
  let interrupted = false;
  let epoch = startEpoch;
  let peakRss = process.memoryUsage().rss;
  try {
    for (; epoch < plan.epochs; epoch++) {
      if (options.signal?.aborted) {
        interrupted = true;
        break;
      }
      const te = performance.now();
      // Dropout and any other LibTorch randomness follow (seed, epoch): resumable without saving RNG state.
      binding.manualSeed(deriveRngState(c.seed, 7, epoch)[0]);
      const lr = schedule.lrForEpoch(epoch);
      await net.setLearningRate(lr);
      let lossSum = 0, steps = 0, stepSeconds = 0, samples = 0;
      const total = loader.length;
      for await (const batch of loader.epoch(epoch)) {
        const [n, ni, nj, nk] = batch.shape;
        const ts = performance.now();
        const loss = await net.trainStep({ data: batch.image, shape: [n, 1, ni, nj, nk] }, { data: batch.label!, shape: [n, 1, ni, nj, nk] });
        stepSeconds += (performance.now() - ts) / 1000;
        lossSum += loss;
        steps++;
        samples += n;
        const eta = ((performance.now() - te) / 1000 / steps) * (total - steps + total * (plan.epochs - epoch - 1));
        progress.step(steps, total, `epoch ${epoch + 1}/${plan.epochs} loss ${(lossSum / steps).toFixed(4)} ETA ${formatDuration(eta)}`);
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
        if (options.signal?.aborted) break;
      }
      if (options.signal?.aborted && steps < total) {
        // An interrupted epoch is not counted: `last` stays at the previous epoch boundary so a resume repeats it whole.
        interrupted = true;
        break;
      }
      const loss = lossSum / Math.max(1, steps);
      let valDice: number | null = null;
      const isLast = epoch + 1 === plan.epochs;
      if (split.val.length > 0 && ((epoch + 1) % c.valInterval === 0 || isLast)) {
        const scores: number[] = [];
        for (let i = 0; i < valSet.length; i++) {
          const [s] = await valSet.getSamples(i);
          const shape = s.image.shape as Size3;
          const pred = await net.predictVolume(
            { data: s.image.data as Float32Array, shape },
            plan.slidingValidation
              ? { roi: plan.inputSize as Size3, overlap: c.valOverlap, blend: 'gaussian', output: 'mask' }
              : { sliding: false, output: 'mask' },
          );
          scores.push(maskDice(pred.data as Uint8Array, s.label!.data));
        }
        const finite = scores.filter(Number.isFinite);
        valDice = finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : null;
      }
      const done = epoch + 1;
      const improved = valDice !== null && (bestDice === null || valDice > bestDice);
      const noValidation = split.val.length === 0;
      if (improved || noValidation) {
        if (improved) {
          bestDice = valDice;
          bestEpoch = done;
        }
        await saveModel(bestPath, net, {
          stage: plan.kind,
          intensity,
          inputSize: plan.inputSize,
          roiMargin: plan.kind === 'fine' ? c.margin : undefined,
          spacing: null,
          validation: bestDice === null ? null : { dice: bestDice, epoch: bestEpoch! },
          training: { epochs: plan.epochs, epoch: done, data: nodePath.resolve(plan.dataDir), optimizer: c.optimizer, lr: c.lr, scheduler: schedule.config, seed: c.seed },
        });
      }
      const epochSeconds = (performance.now() - te) / 1000;
      const row: EpochMetrics = {
        epoch: done,
        loss,
        lr,
        dice: valDice,
        epochSeconds,
        stepSeconds: stepSeconds / Math.max(1, steps),
        voxelsPerSecond: (samples * voxelsPerSample) / Math.max(1e-9, stepSeconds),
      };
      rows.push(row);
      await writeBytesAtomic(metricsPath, Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n') + '\n'));
      await writeBytesAtomic(nodePath.join(plan.outDir, 'metrics.svg'), Buffer.from(metricsChartSvg(rows, `liverseg ${plan.kind}: loss and validation Dice`)));
      await saveCheckpoint(lastPath, await net.getWeights(), await net.getOptimizerState(), {
        epoch: done,
        bestDice,
        bestEpoch,
        stageConfig: key,
        seed: c.seed,
        elapsedSeconds: elapsedBefore + (performance.now() - t0) / 1000,
      });
      progress.line(
        `[${plan.kind}] epoch ${done}/${plan.epochs} average loss: ${loss.toFixed(4)} lr: ${lr} step time: ${row.stepSeconds.toFixed(3)}s epoch time: ${epochSeconds.toFixed(1)}s` +
          (valDice !== null ? ` val Dice: ${valDice.toFixed(4)} (best ${bestDice!.toFixed(4)} at epoch ${bestEpoch})` : ''),
      );
      options.onEpoch?.({ ...row, stage: plan.kind, epochs: plan.epochs, bestDice, bestEpoch });
    }
  } finally {
    await loader.close();
    await net.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    stage: plan.kind,
    bundle: bestPath,
    last: lastPath,
    bestDice,
    bestEpoch,
    epochsRun: epoch - startEpoch,
    seconds,
    peakRssMiB: peakRss / 2 ** 20,
    interrupted,
  };
}

async function preparedKind(dir: string): Promise<string | undefined> {
  try {
    const j = JSON.parse(await fsp.readFile(nodePath.join(dir, 'dataset.json'), 'utf8')) as { liverseg?: { kind?: string } };
    return j.liverseg?.kind;
  } catch {
    return undefined;
  }
}

/** The coarse or fine training set: the folder itself when it was prepared already, else prepared under the output. */
async function derivedData(c: TrainConfig, kind: 'resized' | 'foreground', progress: ProgressReporter, signal?: AbortSignal): Promise<string> {
  if ((await preparedKind(c.data)) === kind) return c.data;
  const out = nodePath.join(c.output, 'prepared');
  const r = await prepareDatasets(c.data, out, {
    coarseSize: c.coarseSize,
    margin: c.margin,
    outputs: [kind],
    signal,
    onCase: (e) => progress.line(`[prepare ${kind}] ${e.index + 1}/${e.total} ${e.name}: ${e.status}${e.error ? ` (${e.error.message})` : ''} ${e.ms} ms`),
  });
  if (r.failed.length > 0) {
    throw new LiversegError('ERR_DATASET', `liverseg-prepare: ${r.failed.length} case(s) failed (${r.failed.map((f) => `${f.name}: ${f.error}`).join('; ')})`);
  }
  return r[kind]!;
}

/**
 * Trains a model (or the two-stage pair) as `liverseg-train` does.
 * @example
 * const result = await train({ stage: 'two-stage', data: 'Task03_Liver', output: 'runs/liver', epochs: 50 },
 *   { onEpoch: (r) => console.log(r.stage, r.epoch, r.loss, r.dice) });
 * console.log(result.pipeline);
 */
export async function train(config: Partial<TrainConfig>, options: TrainOptions = {}): Promise<TrainResult> {
  const c = resolveTrainConfig(config as Record<string, unknown>);
  const progress = options.progress ?? createProgress();
  try {
    await fsp.access(nodePath.join(c.data, 'dataset.json'));
  } catch {
    throw new LiversegError('ERR_INVALID_CONFIG', `Invalid config field 'data': ${c.data} has no dataset.json`);
  }
  await fsp.mkdir(c.output, { recursive: true });
  const stages: StageResult[] = [];
  const plan = (kind: StageKind, dataDir: string, epochs: number): StagePlan => ({
    kind,
    dataDir,
    outDir: nodePath.join(c.output, kind),
    epochs,
    inputSize: kind === 'coarse' ? c.coarseSize : c.patchSize,
    slidingValidation: kind !== 'coarse',
  });
  const finish = (pipeline?: string): TrainResult => ({ stages, pipeline, interrupted: stages.some((s) => s.interrupted), config: c });
  if (c.stage === 'single') {
    stages.push(await runStage(plan('single', c.data, c.epochs), c, options, progress));
    return finish();
  }
  if (c.stage === 'coarse' || c.stage === 'two-stage') {
    const dir = await derivedData(c, 'resized', progress, options.signal);
    stages.push(await runStage(plan('coarse', dir, c.epochs), c, options, progress));
    if (stages[stages.length - 1].interrupted) return finish();
  }
  if (c.stage === 'fine' || c.stage === 'two-stage') {
    const dir = await derivedData(c, 'foreground', progress, options.signal);
    stages.push(await runStage(plan('fine', dir, c.stage === 'two-stage' && c.fineEpochs > 0 ? c.fineEpochs : c.epochs), c, options, progress));
  }
  if (c.stage === 'two-stage' && !stages.some((s) => s.interrupted)) {
    const pipelinePath = nodePath.join(c.output, 'pipeline.json');
    await writePipeline(pipelinePath, stages[0].bundle, stages[1].bundle, c.margin);
    return finish(pipelinePath);
  }
  return finish();
}
