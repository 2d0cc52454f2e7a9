/**
 * The `last` checkpoint: weights, optimizer state and the trainer's own state (epoch, best score,
 * seed). Written crash-safe like bundles: new content-addressed tensor files first, then the JSON
 * atomically, then the old tensor files are removed; on load both files are checked against the
 * digests the JSON recorded.
 */
import * as nodePath from 'path';
import { fileError } from '../errors';
import { ContentAddressedFile, readVerified, removeReplaced, writeContentAddressed, writeJsonAtomic } from '../io/atomic-write';
import type { NamedTensor } from '../nets/resunet';
import { fileInside, readJsonObject } from './format';
import { previousField } from './model-bundle';
import { encodeNamedTensors, readNamedTensors } from './named-tensors';

export const CHECKPOINT_FORMAT = 'liverseg-checkpoint';

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
  format: typeof CHECKPOINT_FORMAT;
  formatVersion: 1;
  weights: string;
  weightsSha256: string;
  optimizer: string;
  optimizerSha256: string;
  savedAt: string;
}

export async function saveCheckpoint(jsonPath: string, weights: NamedTensor[], optimizer: NamedTensor[], state: TrainerState): Promise<void> {
  const dir = nodePath.dirname(jsonPath);
  const stem = nodePath.basename(jsonPath, '.json');
  const previous = await previousField(jsonPath, 'weights', 'optimizer');
  const written: string[] = [];
  let w: ContentAddressedFile, o: ContentAddressedFile;
  try {
    w = await writeContentAddressed(dir, `${stem}.weights`, '.safetensors', encodeNamedTensors(weights));
    written.push(w.name);
    o = await writeContentAddressed(dir, `${stem}.optim`, '.safetensors', encodeNamedTensors(optimizer));
    written.push(o.name);
  } catch (e) {
    // A full disk half-way: the weights file the JSON does not name yet would only take space.
    await removeReplaced(
      dir,
      written,
      previous.filter((p): p is string => p !== undefined),
    );
    throw e;
  }
  const file: CheckpointFile = {
    format: CHECKPOINT_FORMAT,
    formatVersion: 1,
    ...state,
    weights: w.name,
    weightsSha256: w.sha256,
    optimizer: o.name,
    optimizerSha256: o.sha256,
    savedAt: new Date().toISOString(),
  };
  await writeJsonAtomic(jsonPath, file);
  await removeReplaced(dir, previous, [w.name, o.name]);
}

export async function loadCheckpoint(jsonPath: string): Promise<{ state: CheckpointFile; weights: NamedTensor[]; optimizer: NamedTensor[] }> {
  let json: Record<string, unknown>;
  try {
    json = await readJsonObject(jsonPath, 'checkpoint');
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_FILE_NOT_FOUND') throw fileError('ERR_FILE_NOT_FOUND', jsonPath, 'no checkpoint to resume from', e);
    throw e;
  }
  const state = json as unknown as CheckpointFile;
  if (state.format !== CHECKPOINT_FORMAT) throw fileError('ERR_BUNDLE', jsonPath, 'not a liverseg checkpoint');
  if (typeof state.weights !== 'string' || typeof state.optimizer !== 'string') throw fileError('ERR_BUNDLE', jsonPath, 'names no weights or optimizer file');
  const read = async (name: string, digest: string | undefined, field: string) => {
    const path = fileInside(jsonPath, name, field);
    return (await readNamedTensors(path, await readVerified(path, digest, jsonPath))).tensors;
  };
  const weights = await read(state.weights, state.weightsSha256, 'weights');
  const optimizer = await read(state.optimizer, state.optimizerSha256, 'optimizer');
  return { state, weights, optimizer };
}
