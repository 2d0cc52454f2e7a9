/**
 * `train()`, what `liverseg-train` runs: one-stage, coarse, fine or the full two-stage scheme.
 * A stage is planned (plan.ts), then run (stage-loop.ts: training, validation, the best bundle,
 * the run log and the checkpoint); two-stage runs prepare their derived data sets first and end
 * by writing pipeline.json.
 */
import { promises as fsp } from 'fs';
import * as nodePath from 'path';
import { writePipeline } from '../bundle/pipeline-file';
import { describeValue, invalidArg, LiversegError } from '../errors';
import { DistributedContext, DistributedOptions, resolveDistributedOptions } from '../native/distributed';
import { resolveModelOptions } from '../nets/config';
import type { EpochMetrics } from './chart';
import { resolveTrainConfig, TrainConfig } from './config';
import { StageKind, stageModelOptions, stagePlan } from './plan';
import { prepareDatasets } from './prepare';
import { createProgress, ProgressReporter } from './progress';
import { runStage } from './stage-loop';

export type { StageKind };

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
  /** Where progress goes; default a bar on a terminal, plain lines otherwise, on stderr (rank 0 only when distributed). */
  progress?: ProgressReporter;
  /**
   * Data-parallel training: this process is rank `rank` of `worldSize` (all started with the same
   * config). Each rank trains on its part of every global batch (worldSize x batchSize volumes),
   * gradients are averaged over the ranks, validation is split between them; only rank 0 writes
   * checkpoints, bundles, metrics and pipeline.json. A dead peer or an unreachable master ends in
   * ERR_DISTRIBUTED after at most `timeoutSeconds`.
   */
  distributed?: DistributedOptions;
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

/** Creates the output folder, or says in our words why it cannot be (a file in the way, no permission, a read-only disk). */
async function makeOutputDir(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'EEXIST' || code === 'ENOTDIR'
        ? 'it, or a folder above it, is a file'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : code === 'EROFS'
            ? 'the file system is read-only'
            : code === 'ENOSPC'
              ? 'the disk is full'
              : ((e as Error).message ?? String(e));
    throw new LiversegError(
      code === 'ENOSPC' || code === 'EROFS' ? 'ERR_IO' : 'ERR_INVALID_CONFIG',
      `Invalid config field 'output': cannot create ${dir}: ${why}`,
      { path: dir, cause: e },
    );
  }
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
async function derivedData(
  c: TrainConfig,
  kind: 'resized' | 'foreground',
  progress: ProgressReporter,
  signal?: AbortSignal,
  dist?: DistributedContext,
): Promise<string> {
  if ((await preparedKind(c.data)) === kind) return c.data;
  const out = nodePath.join(c.output, 'prepared');
  if (dist && dist.rank !== 0) {
    // Rank 0 prepares; the others wait for it (the output folder is shared by the ranks of one machine).
    await dist.barrier();
    return nodePath.join(out, kind);
  }
  try {
    return await prepareOnce(c, kind, out, progress, signal);
  } finally {
    if (dist) await dist.barrier();
  }
}

async function prepareOnce(c: TrainConfig, kind: 'resized' | 'foreground', out: string, progress: ProgressReporter, signal?: AbortSignal): Promise<string> {
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
  try {
    await fsp.access(nodePath.join(c.data, 'dataset.json'));
  } catch {
    throw new LiversegError('ERR_INVALID_CONFIG', `Invalid config field 'data': ${c.data} has no dataset.json`);
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal))
    throw invalidArg('options.signal', `expected an AbortSignal, got ${describeValue(options.signal)}`);
  if (options.onEpoch !== undefined && typeof options.onEpoch !== 'function')
    throw invalidArg('options.onEpoch', `expected a function, got ${describeValue(options.onEpoch)}`);
  const distOptions = options.distributed === undefined ? undefined : resolveDistributedOptions(options.distributed);
  // Everything that can be checked without training is checked before the output folder exists.
  resolveModelOptions(stageModelOptions(c));
  await makeOutputDir(c.output);
  if (!distOptions || distOptions.worldSize === 1) return trainWith(c, options, options.progress ?? createProgress());
  const dist = await DistributedContext.create(options.distributed!);
  try {
    const progress = options.progress ?? createProgress(process.stderr, dist.rank !== 0);
    return await trainWith(c, options, progress, dist);
  } finally {
    dist.close();
  }
}

async function trainWith(c: TrainConfig, options: TrainOptions, progress: ProgressReporter, dist?: DistributedContext): Promise<TrainResult> {
  const stages: StageResult[] = [];
  const plan = (kind: StageKind, dataDir: string, epochs: number) => stagePlan(c, kind, dataDir, epochs);
  const finish = (pipeline?: string): TrainResult => ({ stages, pipeline, interrupted: stages.some((s) => s.interrupted), config: c });
  if (c.stage === 'single') {
    stages.push(await runStage(plan('single', c.data, c.epochs), c, options, progress, dist));
    return finish();
  }
  if (c.stage === 'coarse' || c.stage === 'two-stage') {
    const dir = await derivedData(c, 'resized', progress, options.signal, dist);
    stages.push(await runStage(plan('coarse', dir, c.epochs), c, options, progress, dist));
    if (stages[stages.length - 1].interrupted) return finish();
  }
  if (c.stage === 'fine' || c.stage === 'two-stage') {
    const dir = await derivedData(c, 'foreground', progress, options.signal, dist);
    stages.push(await runStage(plan('fine', dir, c.stage === 'two-stage' && c.fineEpochs > 0 ? c.fineEpochs : c.epochs), c, options, progress, dist));
  }
  if (c.stage === 'two-stage' && !stages.some((s) => s.interrupted)) {
    const pipelinePath = nodePath.join(c.output, 'pipeline.json');
    if (dist && dist.rank !== 0) return finish(pipelinePath);
    await writePipeline(pipelinePath, stages[0].bundle, stages[1].bundle, c.margin);
    return finish(pipelinePath);
  }
  return finish();
}
