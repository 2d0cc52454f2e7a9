/**
 * Model bundles: a small JSON file that says what a model is (architecture, intensity window,
 * input size, stage, validation score, how it was trained) beside a safetensors weights file.
 * Pipelines are JSON files naming a coarse and a fine bundle and the ROI margin between them.
 *
 * Writes are crash-safe: the weights go to a new content-addressed file first, then the JSON is
 * replaced atomically, then the old weights file is removed; a crash at any point leaves the
 * previous bundle loadable.
 */
import { createHash } from 'crypto';
import { promises as fsp } from 'fs';
import * as nodePath from 'path';
import { LiversegError, fileError } from '../errors';
import { ResolvedArchitecture, resolveArchitecture } from '../nets/config';
import type { NamedTensor } from '../nets/resunet';
import { packageVersion } from '../util/package';
import type { Vec3 } from '../volume';
import { writeFileAtomic, writeAll } from './atomic-write';
import { encodeSafetensors, readSafetensors, SafetensorsDtype, SafetensorsTensor } from './safetensors';

export const MODEL_FORMAT = 'liverseg-model';
export const PIPELINE_FORMAT = 'liverseg-pipeline';
export const FORMAT_VERSION = 1;

export type Stage = 'single' | 'coarse' | 'fine';

export interface IntensityWindowConfig {
  aMin: number;
  aMax: number;
  bMin: number;
  bMax: number;
  clip: boolean;
}

export const DEFAULT_INTENSITY: IntensityWindowConfig = { aMin: -300, aMax: 300, bMin: 0, bMax: 1, clip: true };

/** The JSON half of a model bundle. */
export interface ModelBundle {
  format: typeof MODEL_FORMAT;
  formatVersion: number;
  architecture: 'ResUNet3D';
  config: ResolvedArchitecture;
  /** Weights file, relative to the JSON file. */
  weights: string;
  weightsSha256: string;
  stage: Stage;
  intensity: IntensityWindowConfig;
  /** coarse: the size whole volumes are resized to; single/fine: the sliding-window size. [ni, nj, nk] */
  inputSize: Vec3;
  /** fine: the margin (voxels) around the liver box its training crops used. */
  roiMargin?: number;
  /** Set when the model was trained on volumes resampled to this spacing (mm). */
  spacing?: Vec3 | null;
  validation?: { dice: number; epoch: number } | null;
  training?: Record<string, unknown>;
  createdAt: string;
  liversegVersion: string;
}

export interface PipelineBundle {
  format: typeof PIPELINE_FORMAT;
  formatVersion: number;
  /** Paths relative to the pipeline JSON. */
  coarse: string;
  fine: string;
  /** ROI margin in full-resolution voxels added around the coarse liver box. */
  margin: number;
  createdAt?: string;
}

const DTYPE_OF: Record<string, SafetensorsDtype> = {
  Float32Array: 'F32',
  Float64Array: 'F64',
  Int32Array: 'I32',
  Int16Array: 'I16',
  Int8Array: 'I8',
  Uint8Array: 'U8',
  BigInt64Array: 'I64',
};

/** Named tensors as safetensors bytes (used for weights and for optimizer state in checkpoints). */
export function encodeNamedTensors(tensors: NamedTensor[], metadata?: Record<string, string>): Buffer {
  const record: Record<string, SafetensorsTensor> = {};
  for (const t of tensors) {
    const dtype = DTYPE_OF[t.data.constructor.name];
    if (!dtype) throw new LiversegError('ERR_SAFETENSORS', `Tensor '${t.name}' has an unsupported type ${t.data.constructor.name}`);
    record[t.name] = { dtype, shape: t.shape, data: t.data };
  }
  return encodeSafetensors(record, metadata);
}

/** Reads named tensors back (order: as stored). */
export async function readNamedTensors(path: string): Promise<{ tensors: NamedTensor[]; metadata: Record<string, string> }> {
  const file = await readSafetensors(path);
  const tensors: NamedTensor[] = [];
  for (const [name, t] of Object.entries(file.tensors)) {
    if (t.dtype !== 'F32' && t.dtype !== 'F64' && t.dtype !== 'I32' && t.dtype !== 'I16' && t.dtype !== 'I8' && t.dtype !== 'U8') {
      throw fileError('ERR_BUNDLE', path, `tensor '${name}' has dtype ${t.dtype}, which liverseg does not load`);
    }
    tensors.push({ name, shape: t.shape, data: t.data as NamedTensor['data'] });
  }
  return { tensors, metadata: file.metadata };
}

export function sha256(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** Writes bytes atomically to a fresh file. */
export async function writeBytesAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await writeFileAtomic(path, (fh) => writeAll(fh, bytes));
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeBytesAtomic(path, Buffer.from(JSON.stringify(value, null, 2) + '\n'));
}

export type ModelBundleMeta = Omit<ModelBundle, 'format' | 'formatVersion' | 'architecture' | 'config' | 'weights' | 'weightsSha256' | 'createdAt' | 'liversegVersion'>;

/**
 * Saves weights and the bundle JSON at `jsonPath` (e.g. `out/best.json` with `out/best.<hash>.safetensors`).
 */
export async function saveModelBundle(jsonPath: string, config: ResolvedArchitecture, weights: NamedTensor[], meta: ModelBundleMeta): Promise<ModelBundle> {
  const bytes = encodeNamedTensors(weights, { format: MODEL_FORMAT });
  const digest = sha256(bytes);
  const base = nodePath.basename(jsonPath).replace(/\.json$/i, '');
  const weightsName = `${base}.${digest.slice(0, 12)}.safetensors`;
  const dir = nodePath.dirname(jsonPath);
  await fsp.mkdir(dir, { recursive: true });
  let previous: string | undefined;
  try {
    previous = (JSON.parse(await fsp.readFile(jsonPath, 'utf8')) as Partial<ModelBundle>).weights;
  } catch {
    previous = undefined;
  }
  await writeBytesAtomic(nodePath.join(dir, weightsName), bytes);
  const bundle: ModelBundle = {
    format: MODEL_FORMAT,
    formatVersion: FORMAT_VERSION,
    architecture: 'ResUNet3D',
    config,
    weights: weightsName,
    weightsSha256: digest,
    ...meta,
    createdAt: new Date().toISOString(),
    liversegVersion: packageVersion(),
  };
  await writeJsonAtomic(jsonPath, bundle);
  if (previous && previous !== weightsName && !previous.includes('/') && !previous.includes('\\')) {
    await fsp.unlink(nodePath.join(dir, previous)).catch(() => undefined);
  }
  return bundle;
}

async function readJson(path: string, what: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await fsp.readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw fileError(code === 'ENOENT' ? 'ERR_FILE_NOT_FOUND' : 'ERR_IO', path, `cannot read the ${what}: ${(e as Error).message}`, e);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw fileError('ERR_BUNDLE', path, `the ${what} is not valid JSON (${(e as Error).message})`, e);
  }
}

function isVec3(v: unknown): v is Vec3 {
  return Array.isArray(v) && v.length === 3 && v.every((x) => Number.isInteger(x) && x > 0);
}

/** Reads and checks a model bundle's JSON. */
export async function readModelBundle(jsonPath: string): Promise<ModelBundle> {
  const b = await readJson(jsonPath, 'model bundle');
  const bad = (problem: string) => fileError('ERR_BUNDLE', jsonPath, problem);
  if (b.format !== MODEL_FORMAT) throw bad(`not a liverseg model bundle (format is ${JSON.stringify(b.format)}, expected "${MODEL_FORMAT}")`);
  if (typeof b.formatVersion !== 'number' || b.formatVersion > FORMAT_VERSION) throw bad(`format version ${String(b.formatVersion)} is newer than this liverseg reads (${FORMAT_VERSION})`);
  if (b.architecture !== 'ResUNet3D') throw bad(`unknown architecture ${JSON.stringify(b.architecture)}`);
  try {
    b.config = resolveArchitecture(b.config as object);
  } catch (e) {
    throw bad(`invalid architecture config: ${(e as Error).message}`);
  }
  if (typeof b.weights !== 'string' || b.weights.length === 0) throw bad('has no weights file name');
  if (!['single', 'coarse', 'fine'].includes(b.stage as string)) throw bad(`unknown stage ${JSON.stringify(b.stage)}`);
  if (!isVec3(b.inputSize)) throw bad('inputSize must be 3 positive integers');
  const w = b.intensity as Partial<IntensityWindowConfig> | undefined;
  if (!w || ![w.aMin, w.aMax, w.bMin, w.bMax].every((x) => typeof x === 'number' && Number.isFinite(x)) || w.aMax === w.aMin) {
    throw bad('intensity must be { aMin, aMax, bMin, bMax, clip } with aMin != aMax');
  }
  return b as unknown as ModelBundle;
}

/** Reads a bundle's weights and checks them against the recorded hash. */
export async function readBundleWeights(jsonPath: string, bundle: ModelBundle): Promise<NamedTensor[]> {
  const weightsPath = nodePath.resolve(nodePath.dirname(jsonPath), bundle.weights);
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(weightsPath);
  } catch (e) {
    throw fileError('ERR_BUNDLE', jsonPath, `its weights file ${weightsPath} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`, e);
  }
  if (bundle.weightsSha256 && sha256(bytes) !== bundle.weightsSha256) {
    throw fileError('ERR_BUNDLE', weightsPath, 'the weights file is corrupt (its SHA-256 does not match the bundle)');
  }
  return (await readNamedTensors(weightsPath)).tensors;
}

export async function readPipeline(path: string): Promise<PipelineBundle & { coarsePath: string; finePath: string }> {
  const p = await readJson(path, 'pipeline');
  const bad = (problem: string) => fileError('ERR_BUNDLE', path, problem);
  if (p.format !== PIPELINE_FORMAT) throw bad(`not a liverseg pipeline (format is ${JSON.stringify(p.format)}, expected "${PIPELINE_FORMAT}")`);
  if (typeof p.coarse !== 'string' || typeof p.fine !== 'string') throw bad('must name a coarse and a fine bundle');
  if (typeof p.margin !== 'number' || !(p.margin >= 0)) throw bad('margin must be a number >= 0');
  const dir = nodePath.dirname(path);
  return { ...(p as unknown as PipelineBundle), coarsePath: nodePath.resolve(dir, p.coarse), finePath: nodePath.resolve(dir, p.fine) };
}

export async function writePipeline(path: string, coarseJson: string, fineJson: string, margin: number): Promise<PipelineBundle> {
  const dir = nodePath.dirname(path);
  const p: PipelineBundle = {
    format: PIPELINE_FORMAT,
    formatVersion: FORMAT_VERSION,
    coarse: nodePath.relative(dir, coarseJson),
    fine: nodePath.relative(dir, fineJson),
    margin,
    createdAt: new Date().toISOString(),
  };
  await writeJsonAtomic(path, p);
  return p;
}

/** Whether a JSON file is a pipeline or a single model bundle. */
export async function bundleKind(path: string): Promise<'pipeline' | 'model'> {
  const j = await readJson(path, 'model file');
  if (j.format === PIPELINE_FORMAT) return 'pipeline';
  if (j.format === MODEL_FORMAT) return 'model';
  throw fileError('ERR_BUNDLE', path, `is neither a liverseg model bundle nor a pipeline (format ${JSON.stringify(j.format)})`);
}
