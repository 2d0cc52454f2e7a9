/**
 * Saving and reading model bundles. A save is crash-safe: the weights go to a new
 * content-addressed file first, then the JSON is replaced atomically, then the old weights file
 * is removed; a crash at any point leaves the previous bundle loadable.
 */
import { promises as fsp } from 'fs';
import * as nodePath from 'path';
import { readVerified, removeReplaced, writeContentAddressed, writeJsonAtomic } from '../io/atomic-write';
import type { ResolvedArchitecture } from '../nets/config';
import type { NamedTensor } from '../nets/resunet';
import { packageVersion } from '../util/package';
import { FORMAT_VERSION, fileInside, MODEL_FORMAT, ModelBundle, ModelBundleMeta } from './format';
import { encodeNamedTensors, readNamedTensors } from './named-tensors';

/** The `weights` a JSON at `jsonPath` names now, or undefined (no file yet, or not readable). */
export async function previousField(jsonPath: string, ...fields: string[]): Promise<Array<string | undefined>> {
  try {
    const j = JSON.parse(await fsp.readFile(jsonPath, 'utf8')) as Record<string, unknown>;
    return fields.map((f) => (typeof j[f] === 'string' ? (j[f] as string) : undefined));
  } catch {
    return fields.map(() => undefined);
  }
}

/** Saves weights and the bundle JSON at `jsonPath` (e.g. `out/best.json` with `out/best.<hash>.safetensors`). */
export async function saveModelBundle(jsonPath: string, config: ResolvedArchitecture, weights: NamedTensor[], meta: ModelBundleMeta): Promise<ModelBundle> {
  const dir = nodePath.dirname(jsonPath);
  await fsp.mkdir(dir, { recursive: true });
  const previous = await previousField(jsonPath, 'weights');
  const stem = nodePath.basename(jsonPath).replace(/\.json$/i, '');
  const file = await writeContentAddressed(dir, stem, '.safetensors', encodeNamedTensors(weights, { format: MODEL_FORMAT }));
  const bundle: ModelBundle = {
    format: MODEL_FORMAT,
    formatVersion: FORMAT_VERSION,
    architecture: 'ResUNet3D',
    config,
    weights: file.name,
    weightsSha256: file.sha256,
    ...meta,
    createdAt: new Date().toISOString(),
    liversegVersion: packageVersion(),
  };
  await writeJsonAtomic(jsonPath, bundle);
  await removeReplaced(dir, previous, [file.name]);
  return bundle;
}

/** Reads a bundle's weights and checks them against the recorded hash. */
export async function readBundleWeights(jsonPath: string, bundle: ModelBundle): Promise<NamedTensor[]> {
  const weightsPath = fileInside(jsonPath, bundle.weights, 'weights');
  const bytes = await readVerified(weightsPath, bundle.weightsSha256, jsonPath);
  return (await readNamedTensors(weightsPath, bytes)).tensors;
}
