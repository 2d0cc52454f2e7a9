/**
 * Voxel and geometry helpers the transforms share: typed-array allocation, box crops with zero
 * fill, strided (flip / permute) copies, and the affine bookkeeping that keeps a transformed
 * volume's world coordinates honest.
 */
import type { Affine, Vec3, Volume, VoxelArray } from '../volume';
import { cloneAffine } from '../geometry/affine';
import { reorient } from '../geometry/orientation';
import type { AxisOrientation } from '../geometry/orientation';

type VoxelArrayCtor = { new (n: number): VoxelArray; new (buf: ArrayBufferLike, byteOffset?: number, length?: number): VoxelArray };

/** A zeroed array of the same element type as `like`. */
export function allocLike<T extends VoxelArray>(like: T, n: number): T {
  return new (like.constructor as VoxelArrayCtor)(n) as T;
}

/** True for the integer element types (labels keep these through nearest-neighbour transforms). */
export function isIntegerArray(a: VoxelArray): boolean {
  return !(a instanceof Float32Array || a instanceof Float64Array);
}

/** A Volume with new data/shape/spacing/affine, carrying `like`'s header (for its codes and description). */
export function makeVolume<T extends VoxelArray>(like: Volume, data: T, shape: Vec3, spacing: Vec3, affine: Affine): Volume<T> {
  const out: Volume<T> = { data, shape: [shape[0], shape[1], shape[2]], spacing: [spacing[0], spacing[1], spacing[2]], affine };
  if (like.header) out.header = like.header;
  return out;
}

/**
 * The affine of a grid whose voxel (0,0,0) sits at voxel `start` of the grid of `affine` (same axes
 * and spacing): only the origin moves.
 */
export function shiftOrigin(affine: Affine, start: readonly number[]): Affine {
  const out = cloneAffine(affine);
  for (let r = 0; r < 3; r++) out[r][3] = affine[r][0] * start[0] + affine[r][1] * start[1] + affine[r][2] * start[2] + affine[r][3];
  return out;
}

/**
 * The box [start, start + size) of `src`, where the box may run past the volume on any side: the
 * part outside is filled with `fill`. Rows are copied with `set`, so a crop costs about a memcpy.
 * `into`, when given, receives the crop (zeroed, of the box's size).
 */
export function cropData<T extends VoxelArray>(src: T, shape: Vec3, start: readonly number[], size: Vec3, fill = 0, into?: T): T {
  const [ni, nj, nk] = shape;
  const [si, sj, sk] = size;
  const out = into ?? allocLike(src, si * sj * sk);
  if (fill !== 0) out.fill(fill);
  const i0 = Math.max(0, start[0]);
  const i1 = Math.min(ni, start[0] + si);
  if (i1 <= i0) return out;
  const rowLen = i1 - i0;
  const outI = i0 - start[0];
  for (let k = 0; k < sk; k++) {
    const kk = start[2] + k;
    if (kk < 0 || kk >= nk) continue;
    for (let j = 0; j < sj; j++) {
      const jj = start[1] + j;
      if (jj < 0 || jj >= nj) continue;
      const s = (kk * nj + jj) * ni + i0;
      (out as VoxelArray).set((src as VoxelArray).subarray(s, s + rowLen) as never, (k * sj + j) * si + outI);
    }
  }
  return out;
}

/** A crop (or zero-padded window) of a volume, with the affine's origin moved to the box start. */
export function cropVolume<T extends VoxelArray>(vol: Volume<T>, start: readonly number[], size: Vec3, fill = 0): Volume<T> {
  const data = cropData(vol.data, vol.shape, start, size, fill);
  return makeVolume(vol, data, size, vol.spacing, shiftOrigin(vol.affine, start));
}

/**
 * A voxel map from output to source grid: source index along source axis `axis[d]` is
 * `offset[d] + sign[d] * o_d` for output axis d. Covers flips and axis permutations (rot90).
 */
export interface AxisMap {
  /** Source axis that output axis d reads. */
  axis: [number, number, number];
  /** +1 or -1. */
  sign: [number, number, number];
}

/** An axis map as a reorientation: source axis map.axis[d] becomes axis d, flipped where map.sign[d] is -1. */
export function axisMapOrientation(map: AxisMap): AxisOrientation {
  const o: AxisOrientation = { axes: [0, 0, 0], flips: [1, 1, 1] };
  for (let d = 0; d < 3; d++) {
    o.axes[map.axis[d]] = d;
    o.flips[map.axis[d]] = map.sign[d];
  }
  return o;
}

/** Applies an axis map to a whole volume, keeping its world geometry consistent (see geometry/orientation's reorient). */
export function axisMapVolume<T extends VoxelArray>(vol: Volume<T>, map: AxisMap): Volume<T> {
  return reorient(vol, axisMapOrientation(map));
}

/** Same shape and same affine (to a tolerance in mm): the check paired image and label volumes must pass. */
export function sameGeometry(a: Volume, b: Volume, tol = 1e-3): boolean {
  if (a.shape[0] !== b.shape[0] || a.shape[1] !== b.shape[1] || a.shape[2] !== b.shape[2]) return false;
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 4; c++) {
      const x = a.affine[r][c];
      const y = b.affine[r][c];
      if (Math.abs(x - y) > tol * Math.max(1, Math.abs(x), Math.abs(y))) return false;
    }
  }
  return true;
}
