/**
 * Voxel and geometry helpers the transforms share: typed-array allocation, box crops with zero
 * fill, strided (flip / permute) copies, and the affine bookkeeping that keeps a transformed
 * volume's world coordinates honest.
 */
import type { Affine, Vec3, Volume, VoxelArray } from '../volume';
import { voxelCount } from '../volume';
import { cloneAffine, matmul4 } from '../geometry/affine';

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

/** Strides of an [ni, nj, nk] array in NIfTI order. */
export function strides(shape: readonly number[]): Vec3 {
  return [1, shape[0], shape[0] * shape[1]];
}

/**
 * The box [start, start + size) of `src`, where the box may run past the volume on any side: the
 * part outside is filled with `fill`. Rows are copied with `set`, so a crop costs about a memcpy.
 */
export function cropData<T extends VoxelArray>(src: T, shape: Vec3, start: readonly number[], size: Vec3, fill = 0): T {
  const [ni, nj, nk] = shape;
  const [si, sj, sk] = size;
  const out = allocLike(src, si * sj * sk);
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

/** Applies an axis permutation / flip to data; output shape is the permuted input shape. */
export function axisMapData<T extends VoxelArray>(src: T, shape: Vec3, map: AxisMap): { data: T; shape: Vec3 } {
  const st = strides(shape);
  const outShape: Vec3 = [shape[map.axis[0]], shape[map.axis[1]], shape[map.axis[2]]];
  const step = [0, 1, 2].map((d) => map.sign[d] * st[map.axis[d]]);
  let base = 0;
  for (let d = 0; d < 3; d++) if (map.sign[d] < 0) base += (shape[map.axis[d]] - 1) * st[map.axis[d]];
  const out = allocLike(src, voxelCount(shape));
  const [n0, n1, n2] = outShape;
  const [s0, s1, s2] = step;
  let o = 0;
  if (s0 === 1) {
    // Fast path: rows stay contiguous, so copy them whole.
    for (let c = 0; c < n2; c++) {
      for (let b = 0; b < n1; b++) {
        const s = base + c * s2 + b * s1;
        (out as VoxelArray).set((src as VoxelArray).subarray(s, s + n0) as never, o);
        o += n0;
      }
    }
  } else {
    for (let c = 0; c < n2; c++) {
      for (let b = 0; b < n1; b++) {
        let s = base + c * s2 + b * s1;
        for (let a = 0; a < n0; a++, s += s0) out[o++] = src[s];
      }
    }
  }
  return { data: out, shape: outShape };
}

/** The affine after `axisMapData`: output voxel o sits where source voxel (offset + P·o) sat. */
export function axisMapAffine(affine: Affine, shape: Vec3, map: AxisMap): Affine {
  const m: number[][] = [
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 1],
  ];
  for (let d = 0; d < 3; d++) {
    const a = map.axis[d];
    m[a][d] = map.sign[d];
    if (map.sign[d] < 0) m[a][3] = shape[a] - 1;
  }
  return matmul4(affine, m);
}

/** Applies an axis map to a whole volume, keeping its world geometry consistent. */
export function axisMapVolume<T extends VoxelArray>(vol: Volume<T>, map: AxisMap): Volume<T> {
  const { data, shape } = axisMapData(vol.data, vol.shape, map);
  const spacing: Vec3 = [vol.spacing[map.axis[0]], vol.spacing[map.axis[1]], vol.spacing[map.axis[2]]];
  return makeVolume(vol, data, shape, spacing, axisMapAffine(vol.affine, vol.shape, map));
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
