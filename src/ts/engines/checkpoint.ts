/**
 * The `last` checkpoint: weights, optimizer state and the trainer's own state (epoch, best score,
 * schedule, seed). Written crash-safe like bundles: new content-addressed tensor files first,
 * then the JSON atomically, then the old tensor files are removed.
 */
import { promises as fsp } from 'fs';
import * as nodePath from 'path';
import { fileError } from '../errors';
import { encodeNamedTensors, readNamedTensors, sha256, writeBytesAtomic, writeJsonAtomic } from '../io/bundle';
import type { NamedTensor } from '../nets/resunet';

export interface TrainerState {
  /** Epochs completed. */
  epoch: number;
  bestDice: number | null;
  bestEpoch: number | null;
  /** The resolved configuration of the stage, to refuse resuming with a different one. */
  stageConfig: Record<string, unknown>;
  seed: number;
  elapsedSeconds: number;
}

export interface CheckpointFile extends TrainerState {
  format: 'liverseg-checkpoint';
  formatVersion: 1;
  weights: string;
  optimizer: string;
  savedAt: string;
}

export async function saveCheckpoint(jsonPath: string, weights: NamedTensor[], optimizer: NamedTensor[], state: TrainerState): Promise<void> {
  const dir = nodePath.dirname(jsonPath);
  const base = nodePath.basename(jsonPath, '.json');
  const wBytes = encodeNamedTensors(weights);
  const oBytes = encodeNamedTensors(optimizer);
  const wName = `${base}.weights.${sha256(wBytes).slice(0, 12)}.safetensors`;
  const oName = `${base}.optim.${sha256(oBytes).slice(0, 12)}.safetensors`;
  let previous: Partial<CheckpointFile> | undefined;
  try {
    previous = JSON.parse(await fsp.readFile(jsonPath, 'utf8')) as CheckpointFile;
  } catch {
    previous = undefined;
  }
  await writeBytesAtomic(nodePath.join(dir, wName), wBytes);
  await writeBytesAtomic(nodePath.join(dir, oName), oBytes);
  const file: CheckpointFile = { format: 'liverseg-checkpoint', formatVersion: 1, ...state, weights: wName, optimizer: oName, savedAt: new Date().toISOString() };
  await writeJsonAtomic(jsonPath, file);
  for (const old of [previous?.weights, previous?.optimizer]) {
    if (old && old !== wName && old !== oName && !old.includes('/')) await fsp.unlink(nodePath.join(dir, old)).catch(() => undefined);
  }
}

export async function loadCheckpoint(jsonPath: string): Promise<{ state: CheckpointFile; weights: NamedTensor[]; optimizer: NamedTensor[] }> {
  let state: CheckpointFile;
  try {
    state = JSON.parse(await fsp.readFile(jsonPath, 'utf8')) as CheckpointFile;
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw fileError(missing ? 'ERR_FILE_NOT_FOUND' : 'ERR_BUNDLE', jsonPath, missing ? 'no checkpoint to resume from' : `unreadable checkpoint (${(e as Error).message})`, e);
  }
  if (state.format !== 'liverseg-checkpoint') throw fileError('ERR_BUNDLE', jsonPath, 'not a liverseg checkpoint');
  const dir = nodePath.dirname(jsonPath);
  const weights = (await readNamedTensors(nodePath.join(dir, state.weights))).tensors;
  const optimizer = (await readNamedTensors(nodePath.join(dir, state.optimizer))).tensors;
  return { state, weights, optimizer };
}
