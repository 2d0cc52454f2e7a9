/**
 * Loaded segmentation pipelines, shared across calls: a service loads a model once and every
 * `segment()` that names the same file and device reuses it.
 */
import * as nodePath from 'path';
import { LiversegError } from '../errors';
import { bundleKind } from '../bundle/format';
import { readPipeline } from '../bundle/pipeline-file';
import { LoadedModel, loadModel } from '../bundle/load-model';

/** A two-stage (coarse + fine) or one-stage pipeline, ready to run. */
export interface LoadedPipeline {
  kind: 'two-stage' | 'single';
  coarse?: LoadedModel;
  /** The model that segments at full resolution (fine stage, or the one-stage model). */
  fine: LoadedModel;
  /** ROI margin in full-resolution voxels (two-stage). */
  margin: number;
  source: string;
}

const cache = new Map<string, Promise<LoadedPipeline>>();

/**
 * Loads a pipeline JSON (coarse + fine) or a single model bundle (`stage: 'single'` or `'fine'`)
 * from `path`; loads are cached per resolved path and device.
 */
export function loadPipeline(path: string, options: { device?: string } = {}): Promise<LoadedPipeline> {
  const key = `${nodePath.resolve(path)}|${options.device ?? process.env.LIVERSEG_DEVICE ?? 'auto'}`;
  let p = cache.get(key);
  if (!p) {
    p = load(path, options.device);
    cache.set(key, p);
    // A failed load is not cached: the next call tries again (the file may have been fixed).
    p.catch(() => cache.delete(key));
  }
  return p;
}

/** Frees every cached pipeline's native models. */
export async function clearPipelineCache(): Promise<void> {
  const all = [...cache.values()];
  cache.clear();
  for (const p of all) {
    const loaded = await p.catch(() => undefined);
    if (!loaded) continue;
    await loaded.fine.net.dispose();
    if (loaded.coarse) await loaded.coarse.net.dispose();
  }
}

async function load(path: string, device?: string): Promise<LoadedPipeline> {
  const kind = await bundleKind(path);
  if (kind === 'model') {
    const fine = await loadModel(path, { device });
    if (fine.bundle.stage === 'coarse') {
      throw new LiversegError('ERR_MODEL_MISMATCH', `${path}: a coarse model alone cannot segment at full resolution; give a pipeline JSON that pairs it with a fine model`, { path });
    }
    return { kind: 'single', fine, margin: 0, source: path };
  }
  const p = await readPipeline(path);
  const coarse = await loadModel(p.coarsePath, { device });
  const fine = await loadModel(p.finePath, { device });
  if (coarse.bundle.stage !== 'coarse') {
    throw new LiversegError('ERR_MODEL_MISMATCH', `${path}: its coarse model ${p.coarsePath} is a '${coarse.bundle.stage}' model`, { path });
  }
  if (fine.bundle.stage !== 'fine' && fine.bundle.stage !== 'single') {
    throw new LiversegError('ERR_MODEL_MISMATCH', `${path}: its fine model ${p.finePath} is a '${fine.bundle.stage}' model`, { path });
  }
  if (coarse.bundle.config.inChannels !== 1 || fine.bundle.config.inChannels !== 1 || coarse.bundle.config.outChannels !== fine.bundle.config.outChannels) {
    throw new LiversegError('ERR_MODEL_MISMATCH', `${path}: coarse and fine models disagree on their input or output channels`, { path });
  }
  return { kind: 'two-stage', coarse, fine, margin: p.margin, source: path };
}
