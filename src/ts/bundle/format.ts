/**
 * The model files liverseg reads and writes, and their validation:
 *   - a model bundle: a small JSON (architecture, stage, intensity window, input size, validation
 *     score, how it was trained) beside a content-addressed safetensors weights file;
 *   - a pipeline: a JSON naming a coarse and a fine bundle and the ROI margin between them.
 * Every path a bundle or pipeline names is resolved inside its own folder: a model file is
 * untrusted input and never points a read elsewhere.
 */
import { readRegularFile } from '../io/regular-file';
import * as nodePath from 'path';
import { fileError } from '../errors';
import * as os from 'os';
import {
  DEFAULT_INTENSITY,
  estimateForwardBytes,
  formatBytes,
  IntensityWindowConfig,
  parameterCount,
  ResolvedArchitecture,
  resolveArchitecture,
} from '../nets/config';
import type { Vec3 } from '../volume';

export { DEFAULT_INTENSITY };
export type { IntensityWindowConfig };

export const MODEL_FORMAT = 'liverseg-model';
export const PIPELINE_FORMAT = 'liverseg-pipeline';
export const FORMAT_VERSION = 1;

export type Stage = 'single' | 'coarse' | 'fine';
export const STAGES: readonly Stage[] = ['single', 'coarse', 'fine'];

/** The JSON half of a model bundle. */
export interface ModelBundle {
  format: typeof MODEL_FORMAT;
  formatVersion: number;
  architecture: 'ResUNet3D';
  config: ResolvedArchitecture;
  /** Weights file, a plain file name in the bundle's folder. */
  weights: string;
  weightsSha256: string;
  /** The network exported to ONNX (liverseg-export --attach), a file name in the bundle's folder. */
  onnx?: string;
  onnxSha256?: string;
  /** The `weightsSha256` the ONNX file was exported from: another value means it is outdated. */
  onnxWeightsSha256?: string;
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

/** What a caller says about a model when saving it; the rest of {@link ModelBundle} is filled in. */
export type ModelBundleMeta = Omit<
  ModelBundle,
  | 'format'
  | 'formatVersion'
  | 'architecture'
  | 'config'
  | 'weights'
  | 'weightsSha256'
  | 'onnx'
  | 'onnxSha256'
  | 'onnxWeightsSha256'
  | 'createdAt'
  | 'liversegVersion'
>;

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

/** Reads a JSON object; a missing file, unreadable file or non-object JSON each gets its code. */
export async function readJsonObject(path: string, what: string): Promise<Record<string, unknown>> {
  const text = (await readRegularFile(path, what)).toString('utf8');
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw fileError('ERR_BUNDLE', path, `the ${what} is not valid JSON (${(e as Error).message})`, e);
  }
}

/** The file `name` (as a JSON recorded it) inside `dir`; refuses names that would leave the folder. */
export function fileInside(jsonPath: string, name: string, field: string): string {
  const dir = nodePath.dirname(nodePath.resolve(jsonPath));
  const full = nodePath.resolve(dir, name);
  const rel = nodePath.relative(dir, full);
  if (rel === '' || rel.startsWith('..') || nodePath.isAbsolute(rel)) {
    throw fileError('ERR_BUNDLE', jsonPath, `${field} ${JSON.stringify(name)} points outside the folder of ${nodePath.basename(jsonPath)}`);
  }
  return full;
}

function isVec3(v: unknown): v is Vec3 {
  return Array.isArray(v) && v.length === 3 && v.every((x) => Number.isInteger(x) && x > 0);
}

/** Checks a parsed model bundle JSON; the message names the field. */
export function validateModelBundle(b: Record<string, unknown>, jsonPath: string): ModelBundle {
  const bad = (problem: string) => fileError('ERR_BUNDLE', jsonPath, problem);
  if (b.format !== MODEL_FORMAT) throw bad(`not a liverseg model bundle (format is ${JSON.stringify(b.format)}, expected "${MODEL_FORMAT}")`);
  if (typeof b.formatVersion !== 'number' || b.formatVersion > FORMAT_VERSION)
    throw bad(`format version ${String(b.formatVersion)} is newer than this liverseg reads (${FORMAT_VERSION})`);
  if (b.architecture !== 'ResUNet3D') throw bad(`unknown architecture ${JSON.stringify(b.architecture)}`);
  let config: ResolvedArchitecture;
  try {
    config = resolveArchitecture(b.config as object);
  } catch (e) {
    throw bad(`invalid architecture config: ${(e as Error).message}`);
  }
  if (typeof b.weights !== 'string' || b.weights.length === 0) throw bad('has no weights file name');
  fileInside(jsonPath, b.weights, 'weights');
  if (b.onnx !== undefined) {
    if (typeof b.onnx !== 'string' || b.onnx.length === 0) throw bad('onnx must be a file name');
    fileInside(jsonPath, b.onnx, 'onnx');
    if (typeof b.onnxSha256 !== 'string' || typeof b.onnxWeightsSha256 !== 'string') throw bad('onnx needs onnxSha256 and onnxWeightsSha256 (hex strings)');
  }
  if (!STAGES.includes(b.stage as Stage)) throw bad(`unknown stage ${JSON.stringify(b.stage)}`);
  if (!isVec3(b.inputSize)) throw bad('inputSize must be 3 positive integers');
  const w = b.intensity as Partial<IntensityWindowConfig> | undefined;
  if (!w || ![w.aMin, w.aMax, w.bMin, w.bMax].every((x) => typeof x === 'number' && Number.isFinite(x)) || w.aMax === w.aMin || typeof w.clip !== 'boolean') {
    throw bad('intensity must be { aMin, aMax, bMin, bMax, clip } with finite numbers, aMin != aMax and a boolean clip');
  }
  // A bundle is untrusted: refuse one whose network could never fit this machine before anything is allocated.
  const need = estimateForwardBytes(config, b.inputSize);
  if (need > os.totalmem()) {
    throw bad(
      `asks for a network (${parameterCount(config)} parameters, input ${b.inputSize.join('x')}) that needs about ${formatBytes(need)}, more than this machine's ${formatBytes(os.totalmem())} of memory`,
    );
  }
  return { ...(b as unknown as ModelBundle), config };
}

/** Reads and checks a model bundle's JSON. */
export async function readModelBundle(jsonPath: string): Promise<ModelBundle> {
  return validateModelBundle(await readJsonObject(jsonPath, 'model bundle'), jsonPath);
}

/** Whether a JSON file is a pipeline or a single model bundle. */
export async function bundleKind(path: string): Promise<'pipeline' | 'model'> {
  const j = await readJsonObject(path, 'model file');
  if (j.format === PIPELINE_FORMAT) return 'pipeline';
  if (j.format === MODEL_FORMAT) return 'model';
  throw fileError('ERR_BUNDLE', path, `is neither a liverseg model bundle nor a pipeline (format ${JSON.stringify(j.format)})`);
}
