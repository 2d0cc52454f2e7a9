/**
 * Loaded segmentation pipelines, shared across calls: a service loads a model once and every
 * `segment()` that names the same file and device reuses it.
 */
import * as nodePath from 'path';
import { describeValue, invalidArg, LiversegError } from '../errors';
import type { EngineName, EngineOption } from '../nets/backends/types';
import { bundleKind } from '../bundle/format';
import { readPipeline } from '../bundle/pipeline-file';
import { FineMode, loadEngineModel, PipelineModel, resolveEngine } from './engine';

/** A two-stage (coarse + fine) or one-stage pipeline, ready to run. */
export interface LoadedPipeline {
  kind: 'two-stage' | 'single';
  coarse?: PipelineModel;
  /** The model that segments at full resolution (fine stage, or the one-stage model). */
  fine: PipelineModel;
  /** ROI margin in full-resolution voxels (two-stage). */
  margin: number;
  source: string;
  /** The engine its models run on (set by loadPipeline). */
  engine?: EngineName;
  /** segment()'s fineMode and maxVoxelsPerPass for this pipeline when a call gives none. */
  fineMode?: FineMode;
  maxVoxelsPerPass?: number;
}

export interface LoadPipelineOptions {
  /** 'auto', 'cpu', 'cuda' or 'cuda:N'. Default: LIVERSEG_DEVICE, else 'auto'. */
  device?: string;
  /** 'auto' (default: LIVERSEG_ENGINE, else 'auto'), 'libtorch' or 'onnxruntime'; see resolveEngine. */
  engine?: EngineOption;
}

const cache = new Map<string, Promise<LoadedPipeline>>();

function assertLoadedModel(m: unknown, name: string): void {
  const lm = m as Partial<PipelineModel> | null;
  // Any engine's network: a ResUNet, an OnnxResUNet, or another object with predictVolume and a device.
  const net = lm?.net as Partial<PipelineModel['net']> | null | undefined;
  const isNet = net !== null && typeof net === 'object' && typeof net.predictVolume === 'function' && typeof net.device === 'string';
  if (lm === null || typeof lm !== 'object' || !isNet || lm.bundle === null || typeof lm.bundle !== 'object') {
    throw invalidArg(name, `expected a model loaded with loadModel() ({ net, bundle, path }), got ${describeValue(m)}`);
  }
}

/** Checks a value is a pipeline loadPipeline() made (or one put together the same way), naming what is wrong. */
export function assertLoadedPipeline(p: unknown, name = 'pipeline'): asserts p is LoadedPipeline {
  const lp = p as Partial<LoadedPipeline> | null;
  const hint = 'expected a pipeline or model bundle path, or a pipeline loaded with loadPipeline()';
  if (lp === null || typeof lp !== 'object') throw invalidArg(name, `${hint}, got ${describeValue(p)}`);
  if (lp.kind !== 'two-stage' && lp.kind !== 'single') throw invalidArg(`${name}.kind`, `expected 'two-stage' or 'single', got ${describeValue(lp.kind)}`);
  assertLoadedModel(lp.fine, `${name}.fine`);
  if (lp.kind === 'two-stage') assertLoadedModel(lp.coarse, `${name}.coarse`);
  if (!Number.isInteger(lp.margin) || (lp.margin as number) < 0)
    throw invalidArg(`${name}.margin`, `expected an integer >= 0 (voxels), got ${describeValue(lp.margin)}`);
}

/**
 * Loads a pipeline JSON (coarse + fine) or a single model bundle (`stage: 'single'` or `'fine'`)
 * from `path` onto an engine; loads are cached per resolved path, device and engine.
 * @example
 * const pipeline = await loadPipeline('models/pipeline.json', { engine: 'onnxruntime' });
 */
export function loadPipeline(path: string, options: LoadPipelineOptions = {}): Promise<LoadedPipeline> {
  let engine: EngineName;
  try {
    engine = resolveEngine(options.engine, options.device).engine;
  } catch (e) {
    return Promise.reject(e);
  }
  const key = `${nodePath.resolve(path)}|${options.device ?? process.env.LIVERSEG_DEVICE ?? 'auto'}|${engine}`;
  let p = cache.get(key);
  if (!p) {
    p = load(path, options.device, engine);
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

async function load(path: string, device: string | undefined, engine: EngineName): Promise<LoadedPipeline> {
  const kind = await bundleKind(path);
  if (kind === 'model') {
    const fine = await loadEngineModel(path, engine, device);
    if (fine.bundle.stage === 'coarse') {
      await fine.net.dispose();
      throw new LiversegError(
        'ERR_MODEL_MISMATCH',
        `${path}: a coarse model alone cannot segment at full resolution; give a pipeline JSON that pairs it with a fine model`,
        { path },
      );
    }
    return { kind: 'single', fine, margin: 0, source: path, engine };
  }
  const p = await readPipeline(path);
  const coarse = await loadEngineModel(p.coarsePath, engine, device);
  const fine = await loadEngineModel(p.finePath, engine, device).catch(async (e) => {
    await coarse.net.dispose();
    throw e;
  });
  let problem = '';
  if (coarse.bundle.stage !== 'coarse') problem = `its coarse model ${p.coarsePath} is a '${coarse.bundle.stage}' model`;
  else if (fine.bundle.stage !== 'fine' && fine.bundle.stage !== 'single') problem = `its fine model ${p.finePath} is a '${fine.bundle.stage}' model`;
  else if (
    coarse.bundle.config.inChannels !== 1 ||
    fine.bundle.config.inChannels !== 1 ||
    coarse.bundle.config.outChannels !== fine.bundle.config.outChannels
  ) {
    problem = 'coarse and fine models disagree on their input or output channels';
  }
  if (problem) {
    await Promise.all([coarse.net.dispose(), fine.net.dispose()]);
    throw new LiversegError('ERR_MODEL_MISMATCH', `${path}: ${problem}`, { path });
  }
  return { kind: 'two-stage', coarse, fine, margin: p.margin, source: path, engine };
}
