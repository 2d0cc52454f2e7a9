/** Resuming a stage from its `last` checkpoint, exactly: weights, optimizer state, epoch and best score. */
import { LiversegError } from '../errors';
import { loadCheckpoint } from '../bundle/checkpoint';
import type { ResUNet } from '../nets/resunet';
import { pathExists } from '../util/fs';
import type { ProgressReporter } from './progress';

/** Where a stage starts: epoch 0, or after the checkpoint's last completed epoch. */
export interface ResumePoint {
  startEpoch: number;
  bestDice: number | null;
  bestEpoch: number | null;
  /** Training time the checkpoint had already spent, in seconds. */
  elapsedBefore: number;
}

export const FRESH_START: Readonly<ResumePoint> = Object.freeze({ startEpoch: 0, bestDice: null, bestEpoch: null, elapsedBefore: 0 });

/**
 * Loads `lastPath` into `net` when it exists; refuses a checkpoint made with other settings
 * (`stageKey`), since resuming it would not repeat the interrupted run.
 */
export async function resumeStage(
  net: ResUNet,
  lastPath: string,
  stageKey: Record<string, unknown>,
  kind: string,
  progress: ProgressReporter,
): Promise<ResumePoint> {
  if (!(await pathExists(lastPath))) return { ...FRESH_START };
  const ck = await loadCheckpoint(lastPath);
  if (JSON.stringify(ck.state.stageConfig) !== JSON.stringify(stageKey)) {
    const saved = (ck.state.stageConfig ?? {}) as Record<string, unknown>;
    const differ = [...new Set([...Object.keys(saved), ...Object.keys(stageKey)])].filter((k) => JSON.stringify(saved[k]) !== JSON.stringify(stageKey[k]));
    const why = differ
      .map((k) =>
        k === 'batchSize'
          ? `the global batch (batchSize x world size) was ${JSON.stringify(saved[k])} and is now ${JSON.stringify(stageKey[k])}: choose a world size and batch size whose product is ${JSON.stringify(saved[k])}`
          : `${k} was ${JSON.stringify(saved[k])} and is now ${JSON.stringify(stageKey[k])}`,
      )
      .join('; ');
    throw new LiversegError(
      'ERR_INVALID_CONFIG',
      `${lastPath}: the checkpoint was made with other settings (${why}); resume with the same configuration or train into a new output folder`,
      {
        path: lastPath,
      },
    );
  }
  await net.setWeights(ck.weights);
  await net.setOptimizerState(ck.optimizer);
  progress.line(`[${kind}] resuming after epoch ${ck.state.epoch} (best Dice ${ck.state.bestDice ?? 'n/a'})`);
  return { startEpoch: ck.state.epoch, bestDice: ck.state.bestDice, bestEpoch: ck.state.bestEpoch, elapsedBefore: ck.state.elapsedSeconds };
}
