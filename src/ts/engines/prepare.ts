/**
 * `liverseg-prepare`: the two derived datasets the two-stage scheme trains on, written as MSD
 * folders of their own.
 *   resized/     whole volumes in canonical (RAS) order resized to the coarse size
 *                (images: area, float32 HU; labels: nearest)
 *   foreground/  canonical volumes cropped to the liver's box plus a margin, each box recorded in
 *                dataset.json so a result can be mapped back
 * Cases already written are skipped; a bad case is reported and the others go on.
 */
import { promises as fsp } from 'fs';
import * as nodePath from 'path';
import { LiversegError } from '../errors';
import { writeJsonAtomic } from '../io/atomic-write';
import { saveVolume } from '../io/nifti-write';
import { toCanonical } from '../geometry/orientation';
import { resizeNative } from '../native/ops';
import { boundingBox, Box, widenBox } from '../geometry/boxes';
import { resizeAffine } from '../transforms/resize';
import { cropVolume } from '../transforms/ops';
import type { Vec3, Volume } from '../volume';
import { loadCase } from '../data/load-case';
import { pathExists } from '../util/fs';
import { CaseRecord, loadMsdDataset } from '../data/msd';

export interface PrepareOptions {
  /** Coarse size [ni, nj, nk]. Default [128, 128, 128]. */
  coarseSize?: Vec3;
  /** Voxels around the liver box. Default 30. */
  margin?: number;
  /** Which derived sets to write. Default both. */
  outputs?: Array<'resized' | 'foreground'>;
  /** Rewrite cases already done. Default false. */
  overwrite?: boolean;
  onCase?: (e: PrepareEvent) => void;
  signal?: AbortSignal;
}

export interface PrepareEvent {
  index: number;
  total: number;
  name: string;
  status: 'done' | 'skipped' | 'failed';
  ms: number;
  error?: LiversegError | Error;
}

export interface PrepareResult {
  resized?: string;
  foreground?: string;
  done: number;
  skipped: number;
  failed: { name: string; error: string; code?: string }[];
}

/** A box in canonical voxel indices, [start, end), with the canonical shape it was taken from. */
export interface RecordedBox {
  start: Vec3;
  end: Vec3;
  sourceShape: Vec3;
}

/** The liver's bounding box widened by `margin` and clipped to the volume; null when the label is empty. */
export function labelBox(label: Volume, margin: number): Box | null {
  const box = boundingBox(label.data, label.shape);
  return box && widenBox(box, [margin, margin, margin], label.shape, 'clip');
}

async function resizeVolume(v: Volume, size: Vec3, mode: 'area' | 'nearest'): Promise<Volume> {
  const data = await resizeNative(v.data as never, v.shape, size, mode);
  const affine = resizeAffine(v.affine, v.shape, size);
  const spacing = [0, 1, 2].map((a) => (v.spacing[a] * v.shape[a]) / size[a]) as Vec3;
  // A fresh header: the grid changed, so the source header's dims and pixdim no longer apply.
  return { data: data as Volume['data'], shape: size, spacing, affine };
}

/** Writes resized/ and foreground/ under `outDir` from the MSD folder `dataDir`. */
export async function prepareDatasets(dataDir: string, outDir: string, options: PrepareOptions = {}): Promise<PrepareResult> {
  const coarseSize = options.coarseSize ?? [128, 128, 128];
  const margin = options.margin ?? 30;
  const outputs = options.outputs ?? ['resized', 'foreground'];
  const ds = await loadMsdDataset(dataDir);
  const result: PrepareResult = { done: 0, skipped: 0, failed: [] };
  const dirs: Partial<Record<'resized' | 'foreground', string>> = {};
  for (const o of outputs) {
    dirs[o] = nodePath.join(outDir, o);
    await fsp.mkdir(nodePath.join(dirs[o]!, 'imagesTr'), { recursive: true });
    await fsp.mkdir(nodePath.join(dirs[o]!, 'labelsTr'), { recursive: true });
  }
  const entries: Record<string, Array<Record<string, unknown>>> = { resized: [], foreground: [] };
  const total = ds.training.length;
  for (let index = 0; index < total; index++) {
    options.signal?.throwIfAborted();
    const c: CaseRecord = ds.training[index];
    const t0 = Date.now();
    const file = `${c.name}.nii.gz`;
    const rel = { image: `./imagesTr/${file}`, label: `./labelsTr/${file}` };
    const boxFile = dirs.foreground ? nodePath.join(dirs.foreground, 'labelsTr', `${c.name}.box.json`) : '';
    const done = async (o: 'resized' | 'foreground') =>
      (await pathExists(nodePath.join(dirs[o]!, 'imagesTr', file))) &&
      (await pathExists(nodePath.join(dirs[o]!, 'labelsTr', file))) &&
      (o !== 'foreground' || (await pathExists(boxFile)));
    try {
      const pending = [];
      for (const o of outputs) if (options.overwrite || !(await done(o))) pending.push(o);
      if (pending.length === 0) {
        for (const o of outputs) entries[o].push(o === 'foreground' ? { ...rel, box: JSON.parse(await fsp.readFile(boxFile, 'utf8')) } : { ...rel });
        result.skipped++;
        options.onCase?.({ index, total, name: c.name, status: 'skipped', ms: Date.now() - t0 });
        continue;
      }
      const sample = await loadCase(c);
      const image = toCanonical(sample.image).volume;
      const label = toCanonical(sample.label as Volume).volume;
      if (pending.includes('resized')) {
        const ri = await resizeVolume(image, coarseSize, 'area');
        const rl = await resizeVolume(label, coarseSize, 'nearest');
        await saveVolume(nodePath.join(dirs.resized!, 'imagesTr', file), ri);
        await saveVolume(nodePath.join(dirs.resized!, 'labelsTr', file), rl);
      }
      let box: RecordedBox | undefined;
      if (outputs.includes('foreground')) {
        const b = labelBox(label, margin);
        if (!b)
          throw new LiversegError('ERR_EMPTY_FOREGROUND', `${c.label as string}: the label is empty, so there is no liver box to crop`, {
            path: c.label as string,
          });
        box = { ...b, sourceShape: [...image.shape] as Vec3 };
        if (pending.includes('foreground')) {
          const size = [0, 1, 2].map((a) => b.end[a] - b.start[a]) as Vec3;
          await saveVolume(nodePath.join(dirs.foreground!, 'imagesTr', file), cropVolume(image, b.start, size));
          await saveVolume(nodePath.join(dirs.foreground!, 'labelsTr', file), cropVolume(label, b.start, size));
          await writeJsonAtomic(boxFile, box);
        }
      }
      for (const o of outputs) entries[o].push(o === 'foreground' ? { ...rel, box } : { ...rel });
      result.done++;
      options.onCase?.({ index, total, name: c.name, status: 'done', ms: Date.now() - t0 });
    } catch (e) {
      if ((e as Error)?.name === 'AbortError') throw e;
      const err = e instanceof Error ? e : new Error(String(e));
      result.failed.push({ name: c.name, error: err.message, code: (e as LiversegError).code });
      options.onCase?.({ index, total, name: c.name, status: 'failed', ms: Date.now() - t0, error: err });
    }
  }
  for (const o of outputs) {
    await writeJsonAtomic(nodePath.join(dirs[o]!, 'dataset.json'), {
      name: `${nodePath.basename(nodePath.resolve(dataDir))}-${o}`,
      description:
        o === 'resized'
          ? `Whole volumes in RAS order resized to ${coarseSize.join('x')} (images area, labels nearest), made by liverseg-prepare`
          : `Volumes in RAS order cropped to the label box plus ${margin} voxels, made by liverseg-prepare; 'box' gives each crop in the RAS-ordered source`,
      labels: ds.labels,
      modality: ds.modality,
      tensorImageSize: '3D',
      liverseg: { source: nodePath.resolve(dataDir), coarseSize, margin, kind: o },
      numTraining: entries[o].length,
      training: entries[o],
      test: [],
    });
  }
  if (dirs.resized) result.resized = dirs.resized;
  if (dirs.foreground) result.foreground = dirs.foreground;
  return result;
}
