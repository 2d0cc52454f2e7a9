/** RandRotate90(d): quarter turns in one axis plane, with a probability. */
import { invalidArg, describeValue } from '../errors';
import type { Volume, VoxelArray } from '../volume';
import type { Rng } from '../util/rng';
import type { AxisMap } from './ops';
import { axisMapVolume } from './ops';
import type { KeysOptions, Sample } from './types';
import { MapTransform, checkProb, requireRng } from './types';

function checkPlane(axes: unknown): [number, number] {
  const a = axes ?? [0, 1];
  if (!Array.isArray(a) || a.length !== 2 || !a.every((x) => x === 0 || x === 1 || x === 2) || a[0] === a[1]) {
    throw invalidArg('spatialAxes', `expected two distinct axes among 0, 1, 2, got ${describeValue(axes)}`);
  }
  return [a[0], a[1]];
}

/**
 * Rotates `vol` by k quarter turns in the plane of `axes` = [a, b], from axis a towards axis b
 * (numpy.rot90 semantics: for k = 1, out[p, q] = in[q, n_b - 1 - p] in that plane). The affine
 * follows, so world positions are kept.
 */
export function rotate90<T extends VoxelArray>(vol: Volume<T>, k: number, axes: [number, number] = [0, 1]): Volume<T> {
  const [a, b] = checkPlane(axes);
  if (!Number.isInteger(k)) throw invalidArg('k', `expected an integer, got ${describeValue(k)}`);
  const kk = ((k % 4) + 4) % 4;
  const map: AxisMap = { axis: [0, 1, 2], sign: [1, 1, 1] };
  if (kk === 1) {
    map.axis[a] = b;
    map.sign[a] = -1;
    map.axis[b] = a;
  } else if (kk === 2) {
    map.sign[a] = -1;
    map.sign[b] = -1;
  } else if (kk === 3) {
    map.axis[a] = b;
    map.axis[b] = a;
    map.sign[b] = -1;
  }
  return axisMapVolume(vol, map);
}

/** Options of {@link randRotate90}. */
export interface RandRotate90Options {
  /** Probability of rotating. Default 0.1, as in MONAI. */
  prob?: number;
  /** k is drawn uniformly from 1..maxK. Default 3. */
  maxK?: number;
  /** The rotation plane. Default [0, 1] (the axial plane of a CT). */
  spatialAxes?: [number, number];
}

/** Draws k (1..maxK) then whether to rotate; returns 0 when not rotating. */
export function randRotate90K(rng: Rng, prob: number, maxK: number): number {
  const k = rng.int(maxK) + 1;
  return rng.next() < prob ? k : 0;
}

function checkMaxK(maxK: unknown): number {
  if (!Number.isInteger(maxK) || (maxK as number) < 1) throw invalidArg('maxK', `expected a positive integer, got ${describeValue(maxK)}`);
  return maxK as number;
}

/** Array form; returns the input itself when it does not rotate. */
export function randRotate90<T extends VoxelArray>(vol: Volume<T>, opts: RandRotate90Options, rng: Rng): Volume<T> {
  const k = randRotate90K(rng, checkProb(opts.prob ?? 0.1), checkMaxK(opts.maxK ?? 3));
  return k === 0 ? vol : rotate90(vol, k, opts.spatialAxes ?? [0, 1]);
}

/** Options of {@link RandRotate90d}. */
export type RandRotate90dOptions = KeysOptions & RandRotate90Options;

/** Dictionary form: one k per sample for all keys. */
export class RandRotate90d extends MapTransform<RandRotate90dOptions> {
  readonly name = 'RandRotate90d';
  override readonly random = true;

  constructor(options: RandRotate90dOptions) {
    super(options);
    checkProb(options.prob ?? 0.1);
    checkMaxK(options.maxK ?? 3);
    checkPlane(options.spatialAxes);
  }

  apply(sample: Sample, rng?: Rng): Sample {
    const k = randRotate90K(requireRng(rng, this.name), this.options.prob ?? 0.1, this.options.maxK ?? 3);
    if (k === 0) return { ...sample };
    return this.mapKeys(sample, (v) => rotate90(v, k, this.options.spatialAxes ?? [0, 1]));
  }
}
