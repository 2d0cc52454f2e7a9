/** Medical Segmentation Decathlon folders: dataset.json with paths relative to it. */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { LiversegError, fileError, invalidArg, describeValue } from '../errors';
import type { Volume } from '../volume';

/** One case: an image and, for training data, a label. Paths are absolute once loaded from a dataset.json. */
export interface CaseRecord {
  /** Unique name, from the image file name without .nii / .nii.gz (e.g. 'liver_3'). */
  name: string;
  /** Image file path, or an in-memory volume. */
  image: string | Volume;
  /** Label file path, or an in-memory volume. */
  label?: string | Volume;
}

/** A parsed MSD dataset.json. */
export interface MsdDataset {
  /** Absolute folder holding dataset.json. */
  root: string;
  /** Absolute path of dataset.json. */
  jsonPath: string;
  name?: string;
  description?: string;
  /** Label value (as a string) -> class name, e.g. { "0": "background", "1": "liver", "2": "cancer" }. */
  labels: Record<string, string>;
  /** Channel -> modality, e.g. { "0": "CT" }. */
  modality: Record<string, string>;
  /** The `training` list: image and label. */
  training: CaseRecord[];
  /** The `test` list: images only. */
  test: CaseRecord[];
}

/** Options of {@link loadMsdDataset}. */
export interface LoadMsdOptions {
  /** Check that every listed file exists (ERR_DATASET naming the first missing one). Default true. */
  checkFiles?: boolean;
}

/** The case name of an image path: its base name without .nii or .nii.gz. */
export function caseName(file: string): string {
  return path.basename(file).replace(/\.nii(\.gz)?$/i, '');
}

function stringMap(v: unknown, what: string, jsonPath: string): Record<string, string> {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw fileError('ERR_DATASET', jsonPath, `'${what}' must be an object, got ${describeValue(v)}`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = String(x);
  return out;
}

async function exists(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * Reads `folder/dataset.json` (or the dataset.json path itself). Image and label paths are resolved
 * against the file's folder. Rejects with ERR_DATASET for a missing or malformed dataset.json, a
 * duplicate case name, or (with `checkFiles`) a listed file that does not exist, naming it.
 */
export async function loadMsdDataset(folder: string, options: LoadMsdOptions = {}): Promise<MsdDataset> {
  if (typeof folder !== 'string' || !folder) throw invalidArg('folder', `expected a folder path, got ${describeValue(folder)}`);
  let jsonPath = path.resolve(folder);
  try {
    if ((await fsp.stat(jsonPath)).isDirectory()) jsonPath = path.join(jsonPath, 'dataset.json');
  } catch {
    throw fileError('ERR_DATASET', jsonPath, 'no such folder or file');
  }
  const root = path.dirname(jsonPath);
  let text: string;
  try {
    text = await fsp.readFile(jsonPath, 'utf8');
  } catch (e) {
    throw fileError('ERR_DATASET', jsonPath, 'cannot read dataset.json (is this an MSD-style folder?)', e);
  }
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw fileError('ERR_DATASET', jsonPath, `not valid JSON: ${(e as Error).message}`, e);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw fileError('ERR_DATASET', jsonPath, 'expected a JSON object');
  if (!Array.isArray(json.training)) throw fileError('ERR_DATASET', jsonPath, "has no 'training' list");

  const names = new Map<string, string>();
  const toCase = (entry: unknown, where: string, needLabel: boolean): CaseRecord => {
    const rec = typeof entry === 'string' ? { image: entry } : (entry as { image?: unknown; label?: unknown });
    if (rec === null || typeof rec !== 'object' || typeof rec.image !== 'string' || !rec.image) {
      throw fileError('ERR_DATASET', jsonPath, `${where} needs an 'image' path, got ${describeValue(entry)}`);
    }
    if (needLabel && (typeof rec.label !== 'string' || !rec.label)) throw fileError('ERR_DATASET', jsonPath, `${where} needs a 'label' path`);
    const image = path.resolve(root, rec.image);
    const name = caseName(image);
    const prev = names.get(name);
    if (prev !== undefined) throw fileError('ERR_DATASET', jsonPath, `${where} repeats case name '${name}' (also ${prev})`);
    names.set(name, where);
    const c: CaseRecord = { name, image };
    if (typeof rec.label === 'string' && rec.label) c.label = path.resolve(root, rec.label);
    return c;
  };
  const training = json.training.map((e, i) => toCase(e, `training[${i}]`, true));
  const testList = Array.isArray(json.test) ? json.test : [];
  const test = testList.map((e, i) => toCase(e, `test[${i}]`, false));

  if (options.checkFiles ?? true) {
    const files: Array<[string, string]> = [];
    training.forEach((c, i) => {
      files.push([c.image as string, `training[${i}].image`]);
      files.push([c.label as string, `training[${i}].label`]);
    });
    test.forEach((c, i) => files.push([c.image as string, `test[${i}]`]));
    const found = await Promise.all(files.map(([f]) => exists(f)));
    const missing = files.filter((_, i) => !found[i]);
    if (missing.length > 0) {
      const [f, where] = missing[0];
      const more = missing.length > 1 ? ` (and ${missing.length - 1} more missing file${missing.length > 2 ? 's' : ''})` : '';
      throw new LiversegError('ERR_DATASET', `${f}: listed in ${jsonPath} as ${where} but not found${more}`, { path: f });
    }
  }
  const out: MsdDataset = {
    root,
    jsonPath,
    labels: stringMap(json.labels, 'labels', jsonPath),
    modality: stringMap(json.modality, 'modality', jsonPath),
    training,
    test,
  };
  if (typeof json.name === 'string') out.name = json.name;
  if (typeof json.description === 'string') out.description = json.description;
  return out;
}
