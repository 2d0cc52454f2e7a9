/**
 * One training stage, run from its plan: cache the data, build the model, resume if asked, then
 * per epoch train, validate every valInterval epochs, keep the best bundle, log, checkpoint.
 * Everything random derives from (seed, epoch), so a resumed run repeats an uninterrupted one.
 */
import { promises as fsp } from 'fs';
import * as nodePath from 'path';
import { performance } from 'perf_hooks';
import { saveModel } from '../bundle/load-model';
import { saveCheckpoint } from '../bundle/checkpoint';
import { CacheDataset } from '../data/cache-dataset';
import { DataLoader } from '../data/loader';
import { CaseRecord, loadMsdDataset } from '../data/msd';
import { splitCases, Split } from '../data/split';
import { LiversegError } from '../errors';
import type { DistributedContext } from '../native/distributed';
import { manualSeed } from '../native/runtime';
import { ResUNet } from '../nets/resunet';
import { deriveRngState, RNG_STREAMS } from '../util/seeds';
import type { EpochMetrics } from './chart';
import type { TrainConfig } from './config';
import { intensityOf, stageConfigKey, stageModelOptions, StagePlan, stageSchedule, stageTransforms } from './plan';
import { formatDuration, ProgressReporter } from './progress';
import { FRESH_START, ResumePoint, resumeStage } from './resume';
import { epochLine, RunLog } from './run-log';
import type { EpochReport, StageResult, TrainOptions } from './trainer';
import { validateStage } from './validate';

function splitFor(c: TrainConfig, cases: CaseRecord[]): Split<CaseRecord> {
  return splitCases(
    cases,
    c.valCases.length > 0 ? { val: c.valCases } : c.folds > 1 ? { folds: c.folds, fold: c.fold, seed: c.seed } : { valRatio: c.valRatio, seed: c.seed },
  );
}

/** The stage's training and validation sets, cached, with their sizes checked against the plan. */
async function loadStageData(
  plan: StagePlan,
  c: TrainConfig,
  progress: ProgressReporter,
): Promise<{ trainSet: CacheDataset; valSet: CacheDataset; split: Split<CaseRecord> }> {
  const ds = await loadMsdDataset(plan.dataDir);
  const split = splitFor(c, ds.training);
  if (split.train.length === 0) throw new LiversegError('ERR_INVALID_CONFIG', `Invalid config field 'valRatio': no training cases left in ${plan.dataDir}`);
  const { head, train: tail } = stageTransforms(plan, c);
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
  // A volume smaller than the network can take is padded, but a coarse volume must have the
  // coarse size the bundle will record: check before any training step.
  const first = await valSet.getSamples(0).catch(() => undefined);
  if (plan.kind === 'coarse' && first && first[0].image.shape.some((s, a) => s !== plan.inputSize[a])) {
    throw new LiversegError(
      'ERR_INVALID_CONFIG',
      `Invalid config field 'coarseSize': the coarse data in ${plan.dataDir} is ${first[0].image.shape.join('x')}, not ${plan.inputSize.join('x')}`,
    );
  }
  return { trainSet, valSet, split };
}

interface EpochTotals {
  loss: number;
  steps: number;
  stepSeconds: number;
  samples: number;
  /** True when the signal fired before the epoch's last step. */
  interrupted: boolean;
}

/** One pass over the loader; progress shows the running loss and the stage's ETA. */
async function trainEpoch(
  net: ResUNet,
  loader: DataLoader,
  plan: StagePlan,
  epoch: number,
  progress: ProgressReporter,
  signal?: AbortSignal,
  dist?: DistributedContext,
): Promise<EpochTotals> {
  const te = performance.now();
  let stopped = false;
  let lossSum = 0,
    steps = 0,
    stepSeconds = 0,
    samples = 0;
  const total = loader.length;
  for await (const batch of loader.epoch(epoch)) {
    const [n, ni, nj, nk] = batch.shape;
    const ts = performance.now();
    const loss = await net.trainStep({ data: batch.image, shape: [n, 1, ni, nj, nk] }, { data: batch.label!, shape: [n, 1, ni, nj, nk] });
    stepSeconds += (performance.now() - ts) / 1000;
    steps++;
    let stop = signal?.aborted === true;
    if (dist) {
      // One small collective per step: the global batch's loss and samples, and whether any rank was
      // interrupted (all ranks stop at the same step, so none waits for a peer that left).
      const [l, s, a] = await dist.allReduceSum([loss * n, n, stop ? 1 : 0]);
      lossSum += l / s;
      samples += s;
      stop = a > 0;
    } else {
      lossSum += loss;
      samples += n;
    }
    const eta = ((performance.now() - te) / 1000 / steps) * (total - steps + total * (plan.epochs - epoch - 1));
    progress.step(steps, total, `epoch ${epoch + 1}/${plan.epochs} loss ${(lossSum / steps).toFixed(4)} ETA ${formatDuration(eta)}`);
    if (stop) {
      stopped = true;
      break;
    }
  }
  return { loss: lossSum / Math.max(1, steps), steps, stepSeconds, samples, interrupted: stopped && steps < total };
}

/** Every rank must start from the same epoch: a checkpoint that only some ranks can read would diverge. */
async function checkSameStart(dist: DistributedContext, at: ResumePoint, lastPath: string): Promise<void> {
  const [sum, sq] = await dist.allReduceSum([at.startEpoch, at.startEpoch * at.startEpoch]);
  const w = dist.worldSize;
  if (sum !== at.startEpoch * w || sq !== at.startEpoch * at.startEpoch * w) {
    throw new LiversegError(
      'ERR_DISTRIBUTED',
      `Distributed training: the ranks would resume from different epochs (rank ${dist.rank}: ${at.startEpoch}); every rank must see the same ${lastPath}`,
      { path: lastPath },
    );
  }
}

export async function runStage(
  plan: StagePlan,
  c: TrainConfig,
  options: TrainOptions,
  progress: ProgressReporter,
  dist?: DistributedContext,
): Promise<StageResult> {
  const t0 = performance.now();
  await fsp.mkdir(plan.outDir, { recursive: true });
  const { trainSet, valSet, split } = await loadStageData(plan, c, progress);
  const net = await ResUNet.create(stageModelOptions(c));
  const loader = new DataLoader(trainSet, {
    batchSize: c.batchSize,
    shuffle: true,
    seed: c.seed,
    numWorkers: c.workers,
    shard: dist ? { rank: dist.rank, worldSize: dist.worldSize } : undefined,
  });
  // Only rank 0 writes the stage's files; the others train and validate their parts.
  const writer = !dist || dist.rank === 0;
  const schedule = stageSchedule(plan, c);
  const lastPath = nodePath.join(plan.outDir, 'last.json');
  const bestPath = nodePath.join(plan.outDir, 'best.json');
  const key = stageConfigKey(plan, c, dist?.worldSize ?? 1);
  const intensity = intensityOf(c);
  const voxelsPerSample = plan.inputSize[0] * plan.inputSize[1] * plan.inputSize[2];
  let interrupted = false;
  let at: ResumePoint = { ...FRESH_START };
  let epoch = 0;
  let peakRss = process.memoryUsage().rss;
  try {
    if (c.resume) at = await resumeStage(net, lastPath, key, plan.kind, progress);
    if (dist) {
      await checkSameStart(dist, at, lastPath);
      await net.attachDistributed(dist);
    }
    const log = writer ? await RunLog.open(plan.outDir, plan.kind, at.startEpoch) : undefined;
    let { bestDice, bestEpoch } = at;
    for (epoch = at.startEpoch; epoch < plan.epochs; epoch++) {
      const abortedNow = options.signal?.aborted === true;
      if (dist ? (await dist.allReduceSum([abortedNow ? 1 : 0]))[0] > 0 : abortedNow) {
        interrupted = true;
        break;
      }
      const te = performance.now();
      // Dropout and any other LibTorch randomness follow (seed, epoch): resumable without saving RNG state.
      manualSeed(deriveRngState(c.seed, RNG_STREAMS.torch, epoch)[0]);
      const lr = schedule.lrForEpoch(epoch);
      await net.setLearningRate(lr);
      const totals = await trainEpoch(net, loader, plan, epoch, progress, options.signal, dist);
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      if (totals.interrupted) {
        // An interrupted epoch is not counted: `last` stays at the previous epoch boundary so a resume repeats it whole.
        interrupted = true;
        break;
      }
      const done = epoch + 1;
      const validate = split.val.length > 0 && (done % c.valInterval === 0 || done === plan.epochs);
      const valDice = validate ? await validateStage(net, valSet, plan, c.valOverlap, dist) : null;
      const improved = valDice !== null && (bestDice === null || valDice > bestDice);
      if (improved) {
        bestDice = valDice;
        bestEpoch = done;
      }
      // Without a validation set every epoch's weights become the bundle: the last one is the best we know.
      if (writer && (improved || split.val.length === 0)) {
        await saveModel(bestPath, net, {
          stage: plan.kind,
          intensity,
          inputSize: plan.inputSize,
          roiMargin: plan.kind === 'fine' ? c.margin : undefined,
          spacing: null,
          validation: bestDice === null ? null : { dice: bestDice, epoch: bestEpoch! },
          training: {
            epochs: plan.epochs,
            epoch: done,
            data: nodePath.resolve(plan.dataDir),
            optimizer: c.optimizer,
            lr: c.lr,
            scheduler: schedule.config,
            seed: c.seed,
          },
        });
      }
      const epochSeconds = (performance.now() - te) / 1000;
      const row: EpochMetrics = {
        epoch: done,
        loss: totals.loss,
        lr,
        dice: valDice,
        epochSeconds,
        stepSeconds: totals.stepSeconds / Math.max(1, totals.steps),
        voxelsPerSecond: (totals.samples * voxelsPerSample) / Math.max(1e-9, totals.stepSeconds),
      };
      if (log) await log.append(row);
      if (writer)
        await saveCheckpoint(lastPath, await net.getWeights(), await net.getOptimizerState(), {
          epoch: done,
          bestDice,
          bestEpoch,
          stageConfig: key,
          seed: c.seed,
          elapsedSeconds: at.elapsedBefore + (performance.now() - t0) / 1000,
        });
      progress.line(epochLine(plan.kind, plan.epochs, row, { dice: bestDice, epoch: bestEpoch }));
      const report: EpochReport = { ...row, stage: plan.kind, epochs: plan.epochs, bestDice, bestEpoch };
      options.onEpoch?.(report);
    }
    at = { ...at, bestDice, bestEpoch };
  } finally {
    await loader.close();
    await net.dispose();
  }
  return {
    stage: plan.kind,
    bundle: bestPath,
    last: lastPath,
    bestDice: at.bestDice,
    bestEpoch: at.bestEpoch,
    epochsRun: epoch - at.startEpoch,
    seconds: (performance.now() - t0) / 1000,
    peakRssMiB: peakRss / 2 ** 20,
    interrupted,
  };
}
