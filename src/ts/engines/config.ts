/**
 * The training configuration: one table of fields (type, default, description) drives the
 * defaults, the validation, the JSON Schema (`liverseg-train --print-schema`) and the CLI flags.
 * Defaults are the report's choices: ResUNet [16..256], Novograd lr 0.008, cosine warm restarts
 * (T_0 5, T_mult 3), 128^3 patches, 4 crops per volume, batch 1, window [-300, 300] HU.
 */
import { promises as fsp } from 'fs';
import { LiversegError, describeValue } from '../errors';
import { DEFAULT_INTENSITY, SLIDING_WINDOW_DEFAULTS } from '../nets/config';
import type { Vec3 } from '../volume';

export type TrainStage = 'single' | 'coarse' | 'fine' | 'two-stage';

export interface TrainConfig {
  stage: TrainStage;
  /** MSD folder with dataset.json (the original data; derived sets are prepared under `output`). */
  data: string;
  /** Output folder for bundles, checkpoints, metrics and the chart. */
  output: string;
  valRatio: number;
  /** Explicit validation case names (overrides valRatio). */
  valCases: string[];
  folds: number;
  fold: number;
  channels: number[];
  block: 'residual' | 'plain';
  dropout: number;
  optimizer: 'novograd' | 'adam';
  lr: number;
  weightDecay: number;
  scheduler: 'cosine-restarts' | 'warmup-cosine' | 'constant';
  t0: number;
  tMult: number;
  warmupEpochs: number;
  etaMin: number;
  epochs: number;
  /** Fine stage epochs in a two-stage run (default: epochs). */
  fineEpochs: number;
  valInterval: number;
  patchSize: Vec3;
  cropsPerVolume: number;
  batchSize: number;
  coarseSize: Vec3;
  margin: number;
  aMin: number;
  aMax: number;
  augment: boolean;
  cacheRate: number;
  workers: number;
  seed: number;
  device: string;
  precision: 'auto' | 'off' | 'bf16' | 'fp16';
  valOverlap: number;
  resume: boolean;
}

type Kind = 'string' | 'number' | 'integer' | 'boolean' | 'int-list' | 'size3' | 'string-list';

interface Field {
  kind: Kind;
  default: unknown;
  doc: string;
  enum?: readonly string[];
  min?: number;
  max?: number;
}

export const TRAIN_FIELDS: Record<keyof TrainConfig, Field> = {
  stage: {
    kind: 'string',
    default: 'two-stage',
    enum: ['single', 'coarse', 'fine', 'two-stage'],
    doc: "What to train: 'single' (patches from full volumes), 'coarse' (whole volumes resized), 'fine' (liver crops), or 'two-stage' (prepare, coarse, fine, pipeline.json)",
  },
  data: { kind: 'string', default: '', doc: 'MSD folder holding dataset.json (required)' },
  output: { kind: 'string', default: 'runs/liverseg', doc: 'Output folder' },
  valRatio: { kind: 'number', default: 0.2, min: 0, max: 0.9, doc: 'Fraction of cases held out for validation (report: 26 of 104)' },
  valCases: { kind: 'string-list', default: [], doc: 'Validation case names; overrides valRatio and folds' },
  folds: { kind: 'integer', default: 0, min: 0, max: 100, doc: 'k-fold split when > 1 (with fold)' },
  fold: { kind: 'integer', default: 0, min: 0, max: 99, doc: 'Which fold is validation' },
  channels: { kind: 'int-list', default: [16, 32, 64, 128, 256], doc: 'Channels per level' },
  block: { kind: 'string', default: 'residual', enum: ['residual', 'plain'], doc: 'Residual (ResTwoLayerConvBlock) or plain (UnetTwoLayerBlock) blocks' },
  dropout: { kind: 'number', default: 0, min: 0, max: 0.99, doc: 'Dropout probability' },
  optimizer: { kind: 'string', default: 'novograd', enum: ['novograd', 'adam'], doc: 'Optimizer' },
  lr: { kind: 'number', default: 0.008, min: 0, max: 10, doc: 'Base learning rate (report: 0.008 and 0.004)' },
  weightDecay: { kind: 'number', default: 0, min: 0, max: 10, doc: 'Weight decay' },
  scheduler: {
    kind: 'string',
    default: 'cosine-restarts',
    enum: ['cosine-restarts', 'warmup-cosine', 'constant'],
    doc: 'Learning-rate schedule, stepped per epoch',
  },
  t0: { kind: 'integer', default: 5, min: 1, max: 100000, doc: 'cosine-restarts: epochs to the first restart' },
  tMult: { kind: 'integer', default: 3, min: 1, max: 100, doc: 'cosine-restarts: period growth factor' },
  warmupEpochs: { kind: 'integer', default: 5, min: 0, max: 100000, doc: 'warmup-cosine: linear warm-up epochs' },
  etaMin: { kind: 'number', default: 0, min: 0, max: 10, doc: 'Lowest learning rate of the cosine schedules' },
  epochs: { kind: 'integer', default: 200, min: 1, max: 100000, doc: 'Epochs (coarse, single, or both stages of two-stage)' },
  fineEpochs: { kind: 'integer', default: 0, min: 0, max: 100000, doc: 'Epochs of the fine stage in two-stage (0: same as epochs)' },
  valInterval: { kind: 'integer', default: 2, min: 1, max: 100000, doc: 'Validate every N epochs (and after the last)' },
  patchSize: { kind: 'size3', default: [128, 128, 128], doc: 'Training patch and sliding-window size [ni, nj, nk] (single and fine)' },
  cropsPerVolume: { kind: 'integer', default: 4, min: 1, max: 64, doc: 'RandCropByPosNegLabel samples per volume' },
  batchSize: { kind: 'integer', default: 1, min: 1, max: 64, doc: 'Volumes per batch (each gives cropsPerVolume crops)' },
  coarseSize: { kind: 'size3', default: [128, 128, 128], doc: 'Size whole volumes are resized to for the coarse stage' },
  margin: { kind: 'integer', default: 30, min: 0, max: 1000, doc: 'Voxels around the liver box in fine-stage crops and at inference' },
  aMin: { kind: 'number', default: DEFAULT_INTENSITY.aMin, doc: 'Intensity window low end (HU), mapped to 0' },
  aMax: { kind: 'number', default: DEFAULT_INTENSITY.aMax, doc: 'Intensity window high end (HU), mapped to 1' },
  augment: { kind: 'boolean', default: false, doc: 'Add flips, 90-degree rotations, small affine, intensity scale/shift and noise' },
  cacheRate: { kind: 'number', default: 1, min: 0, max: 1, doc: 'Fraction of training cases cached in memory' },
  workers: { kind: 'integer', default: 0, min: 0, max: 64, doc: 'DataLoader worker threads (0: inline)' },
  seed: { kind: 'integer', default: 0, min: 0, max: 2 ** 31 - 1, doc: 'Seed for weights, split, crops and augmentation' },
  device: { kind: 'string', default: 'auto', doc: "'auto', 'cpu', 'cuda' or 'cuda:N'" },
  precision: { kind: 'string', default: 'auto', enum: ['auto', 'off', 'bf16', 'fp16'], doc: 'Mixed precision on CUDA (auto = bf16)' },
  valOverlap: { kind: 'number', default: SLIDING_WINDOW_DEFAULTS.overlap, min: 0, max: 0.95, doc: 'Sliding-window overlap during validation' },
  resume: { kind: 'boolean', default: false, doc: "Continue from the output folder's last checkpoint" },
};

export function defaultTrainConfig(): TrainConfig {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(TRAIN_FIELDS)) out[k] = Array.isArray(f.default) ? [...f.default] : f.default;
  return out as unknown as TrainConfig;
}

function fieldError(field: string, problem: string): LiversegError {
  return new LiversegError('ERR_INVALID_CONFIG', `Invalid config field '${field}': ${problem}`);
}

function checkValue(name: string, f: Field, v: unknown): unknown {
  switch (f.kind) {
    case 'string':
      if (typeof v !== 'string') throw fieldError(name, `expected a string, got ${describeValue(v)}`);
      if (f.enum && !f.enum.includes(v)) throw fieldError(name, `expected one of ${f.enum.map((e) => `'${e}'`).join(', ')}, got ${describeValue(v)}`);
      return v;
    case 'boolean':
      if (typeof v !== 'boolean') throw fieldError(name, `expected true or false, got ${describeValue(v)}`);
      return v;
    case 'number':
    case 'integer': {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw fieldError(name, `expected a number, got ${describeValue(v)}`);
      if (f.kind === 'integer' && !Number.isInteger(v)) throw fieldError(name, `expected an integer, got ${v}`);
      if ((f.min !== undefined && v < f.min) || (f.max !== undefined && v > f.max))
        throw fieldError(name, `expected a value from ${f.min} to ${f.max}, got ${v}`);
      return v;
    }
    case 'int-list':
    case 'size3':
      if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x) && x > 0) || (f.kind === 'size3' && v.length !== 3) || v.length === 0) {
        throw fieldError(name, `expected ${f.kind === 'size3' ? '3 positive integers [ni, nj, nk]' : 'a list of positive integers'}, got ${describeValue(v)}`);
      }
      return [...v];
    case 'string-list':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw fieldError(name, `expected a list of strings, got ${describeValue(v)}`);
      return [...v];
  }
}

/** Merges partial configs (file, then flags) over the defaults, checking every field by name. */
export function resolveTrainConfig(...layers: Partial<Record<string, unknown>>[]): TrainConfig {
  const out = defaultTrainConfig() as unknown as Record<string, unknown>;
  for (const layer of layers) {
    if (layer === null || typeof layer !== 'object' || Array.isArray(layer)) throw fieldError('(config)', `expected an object, got ${describeValue(layer)}`);
    for (const [k, v] of Object.entries(layer)) {
      if (k === '$schema' || k === 'comment') continue;
      const f = (TRAIN_FIELDS as Record<string, Field>)[k];
      if (!f) throw fieldError(k, `unknown field (see 'liverseg-train --print-schema' for the known fields)`);
      if (v === undefined) continue;
      out[k] = checkValue(k, f, v);
    }
  }
  const c = out as unknown as TrainConfig;
  if (!c.data) throw fieldError('data', 'is required: the MSD folder holding dataset.json');
  if (c.aMax === c.aMin) throw fieldError('aMax', 'must differ from aMin');
  if (c.folds > 1 && c.fold >= c.folds) throw fieldError('fold', `must be below folds (${c.folds})`);
  if (c.channels.length < 2 || c.channels.length > 7) throw fieldError('channels', `expected 2 to 7 levels, got ${c.channels.length}`);
  return c;
}

/** Reads a JSON config file (fields as in TRAIN_FIELDS). */
export async function readTrainConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await fsp.readFile(path, 'utf8');
  } catch (e) {
    throw new LiversegError('ERR_FILE_NOT_FOUND', `${path}: cannot read the config file (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { path, cause: e });
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('the top level must be an object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new LiversegError('ERR_INVALID_CONFIG', `${path}: not valid JSON (${(e as Error).message})`, { path, cause: e });
  }
}

/** JSON Schema (draft 2020-12) of the config file, from the same table. */
export function trainConfigSchema(): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(TRAIN_FIELDS)) {
    const p: Record<string, unknown> = { description: f.doc, default: f.default };
    switch (f.kind) {
      case 'string':
        p.type = 'string';
        if (f.enum) p.enum = f.enum;
        break;
      case 'boolean':
        p.type = 'boolean';
        break;
      case 'number':
      case 'integer':
        p.type = f.kind;
        if (f.min !== undefined) p.minimum = f.min;
        if (f.max !== undefined) p.maximum = f.max;
        break;
      case 'int-list':
        p.type = 'array';
        p.items = { type: 'integer', minimum: 1 };
        break;
      case 'size3':
        p.type = 'array';
        p.items = { type: 'integer', minimum: 1 };
        p.minItems = 3;
        p.maxItems = 3;
        break;
      case 'string-list':
        p.type = 'array';
        p.items = { type: 'string' };
        break;
    }
    properties[k] = p;
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'liverseg-train configuration',
    type: 'object',
    additionalProperties: false,
    required: ['data'],
    properties: { $schema: { type: 'string' }, comment: { type: 'string' }, ...properties },
  };
}

/** Kebab-case CLI flag of a field: patchSize -> --patch-size. */
export function flagName(field: string): string {
  return '--' + field.replace(/[A-Z0-9]+/g, (m) => '-' + m.toLowerCase()).replace(/^-/, '');
}

/** Parses a flag's string value for a field. */
export function parseFlagValue(field: keyof TrainConfig, raw: string | true): unknown {
  const f = TRAIN_FIELDS[field];
  if (f.kind === 'boolean') return raw === true ? true : raw === 'true' ? true : raw === 'false' ? false : raw;
  if (raw === true) throw fieldError(field, `${flagName(field)} needs a value`);
  switch (f.kind) {
    case 'number':
    case 'integer':
      return raw.trim() === '' ? raw : Number(raw);
    case 'int-list':
    case 'size3': {
      const parts = raw.split(/[,x]/).map((s) => Number(s.trim()));
      return f.kind === 'size3' && parts.length === 1 ? [parts[0], parts[0], parts[0]] : parts;
    }
    case 'string-list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    default:
      return raw;
  }
}
