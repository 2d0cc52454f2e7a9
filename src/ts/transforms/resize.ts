/**
 * Resize(d): area mode (PyTorch adaptive average pooling / F.interpolate(mode='area')) for images,
 * nearest (src = floor(dst * in / out)) for labels.
 */
import { invalidArg, describeValue } from '../errors';
import type { Affine, Vec3, Volume, VoxelArray } from '../volume';
import type { KeysOptions, Sample } from './types';
import { MapTransform, isLabelKey } from './types';
import { makeVolume } from './ops';
import { matmul4 } from '../geometry/affine';

/** 'area': average of the input bin [floor(o*in/out), ceil((o+1)*in/out)) per axis, float32 out. 'nearest': input voxel floor(o*in/out), same type out. */
export type ResizeMode = 'area' | 'nearest';

/** Options of {@link resize}. */
export interface ResizeOptions {
  /** Output size [ni, nj, nk]; -1 keeps that axis. */
  size: number[];
  /** Default 'area'. */
  mode?: ResizeMode;
}

function checkSize(size: unknown): number[] {
  if (!Array.isArray(size) || size.length !== 3 || !size.every((s) => Number.isInteger(s) && (s > 0 || s === -1))) {
    throw invalidArg('size', `expected 3 positive integers [ni, nj, nk] (or -1 to keep an axis), got ${describeValue(size)}`);
  }
  return size as number[];
}

function checkMode(mode: unknown, name = 'mode'): ResizeMode {
  if (mode !== 'area' && mode !== 'nearest') throw invalidArg(name, `expected 'area' or 'nearest', got ${describeValue(mode)}`);
  return mode;
}

/** The output shape `resize` gives for an input of `shape`. */
export function resizeShape(shape: readonly number[], size: readonly number[]): Vec3 {
  return [0, 1, 2].map((d) => (size[d] === -1 ? shape[d] : size[d])) as Vec3;
}

/**
 * The affine of the resized grid: same field of view, voxel size scaled by in/out, first voxel
 * centre moved to where the (half-voxel aligned) output grid puts it.
 */
export function resizeAffine(affine: Affine, inShape: readonly number[], outShape: readonly number[]): Affine {
  const m: number[][] = [
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 1],
  ];
  for (let d = 0; d < 3; d++) {
    const r = inShape[d] / outShape[d];
    m[d][d] = r;
    m[d][3] = (r - 1) / 2;
  }
  return matmul4(affine, m);
}

function bins(nIn: number, nOut: number): { start: Int32Array; end: Int32Array } {
  const start = new Int32Array(nOut);
  const end = new Int32Array(nOut);
  for (let o = 0; o < nOut; o++) {
    // Exact integer arithmetic: floor(o*in/out) and ceil((o+1)*in/out).
    start[o] = Math.floor((o * nIn) / nOut);
    end[o] = Math.ceil(((o + 1) * nIn) / nOut);
  }
  return { start, end };
}

// One separable averaging pass along `axis`. Averaging over a box is the product of averages along
// each axis, so three 1D passes give exactly the 3D adaptive average pool.
function areaPass(src: VoxelArray, shape: Vec3, axis: number, nOut: number): Float32Array {
  const [ni, nj, nk] = shape;
  const outShape: Vec3 = [ni, nj, nk];
  outShape[axis] = nOut;
  const out = new Float32Array(outShape[0] * outShape[1] * outShape[2]);
  const { start, end } = bins(shape[axis], nOut);
  if (axis === 0) {
    const rows = nj * nk;
    for (let r = 0; r < rows; r++) {
      const s0 = r * ni;
      const o0 = r * nOut;
      for (let o = 0; o < nOut; o++) {
        const e = s0 + end[o];
        let acc = 0;
        for (let s = s0 + start[o]; s < e; s++) acc += src[s];
        out[o0 + o] = acc / (end[o] - start[o]);
      }
    }
  } else if (axis === 1) {
    for (let k = 0; k < nk; k++) {
      const srcPlane = k * ni * nj;
      const outPlane = k * ni * nOut;
      for (let o = 0; o < nOut; o++) {
        const dst = outPlane + o * ni;
        for (let j = start[o]; j < end[o]; j++) {
          const s0 = srcPlane + j * ni;
          for (let i = 0; i < ni; i++) out[dst + i] += src[s0 + i];
        }
        const inv = 1 / (end[o] - start[o]);
        for (let i = 0; i < ni; i++) out[dst + i] *= inv;
      }
    }
  } else {
    const plane = ni * nj;
    for (let o = 0; o < nOut; o++) {
      const dst = o * plane;
      for (let k = start[o]; k < end[o]; k++) {
        const s0 = k * plane;
        for (let p = 0; p < plane; p++) out[dst + p] += src[s0 + p];
      }
      const inv = 1 / (end[o] - start[o]);
      for (let p = 0; p < plane; p++) out[dst + p] *= inv;
    }
  }
  return out;
}

/** Area-mode resize of raw data: three separable passes, the strongest reduction first so later passes touch fewer voxels. */
export function resizeAreaData(src: VoxelArray, shape: Vec3, outShape: Vec3): Float32Array {
  const order = [0, 1, 2].sort((a, b) => outShape[a] / shape[a] - outShape[b] / shape[b]);
  let cur: VoxelArray = src;
  const curShape: Vec3 = [shape[0], shape[1], shape[2]];
  for (const axis of order) {
    if (curShape[axis] === outShape[axis]) continue;
    cur = areaPass(cur, curShape, axis, outShape[axis]);
    curShape[axis] = outShape[axis];
  }
  if (cur === src) return Float32Array.from(src as ArrayLike<number>);
  return cur as Float32Array;
}

/**
 * Source index of each output index along one axis, exactly as torch's `interpolate(mode='nearest')`
 * (which MONAI's Resize calls) computes it: the scale in/out and the product in float32, then
 * floor, with the equal-size and exact-doubling cases short-cut. In double precision,
 * floor(dst * in / out) picks another voxel for some size pairs (26 -> 22 and 30 -> 58 among them):
 * liverseg matches torch, so a label resized here equals the one MONAI would give.
 */
export function nearestIndex(nIn: number, nOut: number, stride = 1): Int32Array {
  const idx = new Int32Array(nOut);
  const scale = Math.fround(nIn / nOut);
  for (let o = 0; o < nOut; o++) {
    const src = nOut === nIn ? o : nOut === 2 * nIn ? o >> 1 : Math.min(nIn - 1, Math.floor(Math.fround(Math.fround(o) * scale)));
    idx[o] = src * stride;
  }
  return idx;
}

/** Nearest-neighbour resize of raw data (src = floor(dst * in / out) in float32, as torch); keeps the element type. */
export function resizeNearestData<T extends VoxelArray>(src: T, shape: Vec3, outShape: Vec3): T {
  const [ni, nj] = shape;
  const [oi, oj, ok] = outShape;
  const ii = nearestIndex(shape[0], oi, 1);
  const jj = nearestIndex(shape[1], oj, ni);
  const kk = nearestIndex(shape[2], ok, ni * nj);
  const out = new (src.constructor as new (n: number) => T)(oi * oj * ok);
  let o = 0;
  for (let k = 0; k < ok; k++) {
    const sk = kk[k];
    for (let j = 0; j < oj; j++) {
      const sj = sk + jj[j];
      for (let i = 0; i < oi; i++) out[o++] = src[sj + ii[i]];
    }
  }
  return out;
}

/** Resizes a volume to `size`; the affine and spacing follow so the field of view is unchanged. */
export function resize(vol: Volume, opts: ResizeOptions): Volume {
  const size = checkSize(opts.size);
  const mode = checkMode(opts.mode ?? 'area');
  const outShape = resizeShape(vol.shape, size);
  const affine = resizeAffine(vol.affine, vol.shape, outShape);
  const spacing = [0, 1, 2].map((d) => (vol.spacing[d] * vol.shape[d]) / outShape[d]) as Vec3;
  const data = mode === 'area' ? resizeAreaData(vol.data, vol.shape, outShape) : resizeNearestData(vol.data, vol.shape, outShape);
  return makeVolume(vol, data, outShape, spacing, affine);
}

/** Options of {@link Resized}. */
export interface ResizedOptions extends KeysOptions {
  /** Output size [ni, nj, nk]; -1 keeps that axis. */
  size: number[];
  /**
   * One mode for all keys, or one per key. Default: 'nearest' for label-like keys (names containing
   * label, seg or mask), 'area' for the rest.
   */
  mode?: ResizeMode | ResizeMode[];
}

/** Dictionary form of {@link resize}. */
export class Resized extends MapTransform<ResizedOptions> {
  readonly name = 'Resized';

  constructor(options: ResizedOptions) {
    super(options);
    checkSize(options.size);
    if (Array.isArray(options.mode)) {
      if (options.mode.length !== this.keys.length) throw invalidArg('mode', `expected one mode per key (${this.keys.length}), got ${options.mode.length}`);
      options.mode.forEach((m) => checkMode(m));
    } else if (options.mode !== undefined) checkMode(options.mode);
  }

  /** The mode used for `key`. */
  modeFor(key: string): ResizeMode {
    const m = this.options.mode;
    if (Array.isArray(m)) return m[this.keys.indexOf(key)];
    return m ?? (isLabelKey(key) ? 'nearest' : 'area');
  }

  apply(sample: Sample): Sample {
    return this.mapKeys(sample, (v, key) => resize(v, { size: this.options.size, mode: this.modeFor(key) }));
  }
}
