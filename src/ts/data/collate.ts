/** Collation: the samples of a batch become contiguous buffers in the layout the native side reads. */
import { invalidArg, describeValue } from '../errors';
import type { Affine, Vec3 } from '../volume';
import type { Sample } from '../transforms/types';
import { isVolumeLike } from './shared';

/** Per-sample information that travels with a batch. */
export interface BatchItem {
  /** Index of the dataset case the sample came from. */
  caseIndex: number;
  /** Case name, where the dataset has one. */
  name?: string;
  /** The image's voxel size and affine after the transforms (for pasting predictions back). */
  spacing: Vec3;
  affine: Affine;
  /** Every other non-volume key of the sample (a foreground box, file paths, ...). */
  meta: Record<string, unknown>;
}

/** A collated batch: `shape[0]` samples of `shape[1..3]` voxels each, sample after sample, i fastest. */
export interface Batch {
  /** float32 images. */
  image: Float32Array;
  /** Labels: uint8 when every label is integer-typed, float32 when any is floating point. Absent when samples have none. */
  label?: Uint8Array | Float32Array;
  /** [n, ni, nj, nk]. */
  shape: [number, number, number, number];
  /** One entry per sample. */
  items: BatchItem[];
}

const META_SKIP = new Set(['image', 'label', 'name']);

/**
 * Stacks samples (all of one shape) into a {@link Batch}. `caseIndices[s]` is the case of sample s.
 * Throws ERR_SHAPE_MISMATCH for differing shapes and ERR_INVALID_ARG for integer labels outside 0..255.
 */
export function collate(samples: readonly Sample[], caseIndices: readonly number[]): Batch {
  if (samples.length === 0) throw invalidArg('samples', 'cannot collate an empty batch');
  const shape = samples[0].image.shape;
  const per = shape[0] * shape[1] * shape[2];
  const n = samples.length;
  const hasLabel = samples[0].label !== undefined;
  let floatLabel = false;
  samples.forEach((s, i) => {
    const sh = s.image.shape;
    if (sh[0] !== shape[0] || sh[1] !== shape[1] || sh[2] !== shape[2]) {
      throw invalidArg(
        'batch',
        `sample ${i} has shape ${describeValue(sh)} but sample 0 has ${describeValue(shape)}; crop or resize to one size before batching`,
        'ERR_SHAPE_MISMATCH',
      );
    }
    if ((s.label !== undefined) !== hasLabel) throw invalidArg('batch', `sample ${i} ${hasLabel ? 'lacks' : 'has'} a label unlike sample 0`);
    if (s.label) {
      const l = s.label.shape;
      if (l[0] !== shape[0] || l[1] !== shape[1] || l[2] !== shape[2]) {
        throw invalidArg('batch', `sample ${i}: label shape ${describeValue(l)} differs from image shape ${describeValue(sh)}`, 'ERR_SHAPE_MISMATCH');
      }
      if (s.label.data instanceof Float32Array || s.label.data instanceof Float64Array) floatLabel = true;
    }
  });
  const image = new Float32Array(n * per);
  const label = hasLabel ? (floatLabel ? new Float32Array(n * per) : new Uint8Array(n * per)) : undefined;
  const items: BatchItem[] = [];
  samples.forEach((s, i) => {
    image.set(s.image.data as ArrayLike<number>, i * per);
    if (label && s.label) {
      const src = s.label.data;
      if (label instanceof Uint8Array && !(src instanceof Uint8Array)) {
        for (let v = 0; v < per; v++) {
          const x = src[v];
          if (x < 0 || x > 255) throw invalidArg('label', `sample ${i} has label value ${x}; labels must be 0..255 (remap with EnsureBinaryLabeld)`);
        }
      }
      label.set(src as ArrayLike<number>, i * per);
    }
    const meta: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(s)) if (!META_SKIP.has(k) && !isVolumeLike(v)) meta[k] = v;
    const item: BatchItem = { caseIndex: caseIndices[i], spacing: [...s.image.spacing] as Vec3, affine: s.image.affine.map((r) => [...r]), meta };
    if (typeof s.name === 'string') item.name = s.name;
    items.push(item);
  });
  const out: Batch = { image, shape: [n, shape[0], shape[1], shape[2]], items };
  if (label) out.label = label;
  return out;
}
