/**
 * Resampling volumes between voxel grids in world space: to a voxel spacing (as nnU-Net and
 * TotalSegmentator do before the network), to a shape, and back onto any other grid (a mask
 * predicted at 1.5 mm back onto the CT's own grid).
 *
 * Convention (MONAI `Spacing`, its defaults): voxel indices are voxel centres and the affine maps
 * centres to world space ("align corners"). `resampleToSpacing` and `resampleToShape` keep the
 * centre of voxel (0, 0, 0) where it is and scale the voxel axes, so the first voxel centres
 * coincide on both grids; the new shape along an axis is round((n - 1) * old / new) + 1 voxels.
 * `resampleLike` is the general operation: every output voxel centre is mapped through the two
 * affines into the source grid and sampled there; it is what brings a result back exactly.
 */
import { invalidArg } from '../errors';
import { roundHalfEven } from '../util/round';
import { assertShape, assertVolume, NiftiGeometry, Vec3, Volume, VoxelArray } from '../volume';
import type { Affine } from '../volume';
import { cloneAffine, columnNorms, invert3, invertAffine, isFiniteAffine, linearPart, matmul4 } from './affine';
import { ioOrientation } from './orientation';
import { geometryFromAffine } from './nifti-geometry';

/** `'linear'`: trilinear, output float32 (images). `'nearest'`: output keeps the input type (labels). */
export type InterpolationMode = 'linear' | 'nearest';

export interface ResampleOptions {
  /**
   * What points outside the source grid get. `'border'` (default, as MONAI `Spacing`): the value
   * of the nearest edge voxel. `'zeros'`: 0 for points more than half a voxel outside the edge
   * voxel centres (outside the source's field of view); points inside still clamp to the edge.
   */
  padding?: 'border' | 'zeros';
}

/** A voxel grid to resample onto: a Volume, or just its geometry. */
export interface Grid {
  shape: Vec3;
  affine: Affine;
  /** Defaults to the affine's column norms. */
  spacing?: Vec3;
  header?: NiftiGeometry;
}

function checkMode(mode: unknown): asserts mode is InterpolationMode {
  if (mode !== 'linear' && mode !== 'nearest') throw invalidArg('mode', `expected 'linear' or 'nearest', got ${String(mode)}`);
}

/**
 * Removes the round-off that the affine products leave on values that are really simple
 * fractions (0.5, 2, 1.5, ...), so that grids related by whole or half-voxel factors sample
 * exactly on source voxel centres and nearest-neighbour ties break the same way every time.
 */
function snap(x: number): number {
  const r = Math.round(x * 1048576) / 1048576;
  return Math.abs(x - r) <= 1e-9 * Math.max(1, Math.abs(x)) ? r : x;
}

/** Per-axis lookup for separable sampling: source indices and weights for each output index. */
interface AxisTable {
  i0: Int32Array;
  i1: Int32Array;
  w: Float64Array;
  /** Nearest index, or -1 when the point is outside and padding is zeros. */
  near: Int32Array;
  inside: Uint8Array;
}

function axisTable(count: number, scale: number, offset: number, n: number, zeros: boolean, stride: number): AxisTable {
  const t: AxisTable = {
    i0: new Int32Array(count),
    i1: new Int32Array(count),
    w: new Float64Array(count),
    near: new Int32Array(count),
    inside: new Uint8Array(count),
  };
  for (let o = 0; o < count; o++) {
    const x = snap(offset + o * scale);
    const inside = !zeros || (x >= -0.5 && x <= n - 0.5);
    const c = x < 0 ? 0 : x > n - 1 ? n - 1 : x;
    const f = Math.floor(c);
    t.i0[o] = f * stride;
    t.i1[o] = (f < n - 1 ? f + 1 : f) * stride;
    t.w[o] = c - f;
    t.near[o] = inside ? Math.min(n - 1, roundHalfEven(c)) * stride : -1;
    t.inside[o] = inside ? 1 : 0;
  }
  return t;
}

function sampleSeparable(src: VoxelArray, inShape: Vec3, out: VoxelArray, outShape: Vec3, m: Affine, linear: boolean, zeros: boolean): void {
  const sx = 1;
  const sy = inShape[0];
  const sz = inShape[0] * inShape[1];
  const tx = axisTable(outShape[0], m[0][0], m[0][3], inShape[0], zeros, sx);
  const ty = axisTable(outShape[1], m[1][1], m[1][3], inShape[1], zeros, sy);
  const tz = axisTable(outShape[2], m[2][2], m[2][3], inShape[2], zeros, sz);
  let idx = 0;
  for (let k = 0; k < outShape[2]; k++) {
    for (let j = 0; j < outShape[1]; j++) {
      const rowInside = tz.inside[k] & ty.inside[j];
      if (!linear) {
        const base = tz.near[k] + ty.near[j];
        for (let i = 0; i < outShape[0]; i++) {
          out[idx++] = rowInside && tx.inside[i] ? src[base + tx.near[i]] : 0;
        }
        continue;
      }
      const z0 = tz.i0[k];
      const z1 = tz.i1[k];
      const wz = tz.w[k];
      const y0 = ty.i0[j];
      const y1 = ty.i1[j];
      const wy = ty.w[j];
      const o00 = z0 + y0;
      const o01 = z0 + y1;
      const o10 = z1 + y0;
      const o11 = z1 + y1;
      for (let i = 0; i < outShape[0]; i++) {
        if (!(rowInside && tx.inside[i])) {
          out[idx++] = 0;
          continue;
        }
        const x0 = tx.i0[i];
        const x1 = tx.i1[i];
        const wx = tx.w[i];
        const a = src[o00 + x0] + wx * (src[o00 + x1] - src[o00 + x0]);
        const b = src[o01 + x0] + wx * (src[o01 + x1] - src[o01 + x0]);
        const c = src[o10 + x0] + wx * (src[o10 + x1] - src[o10 + x0]);
        const d = src[o11 + x0] + wx * (src[o11 + x1] - src[o11 + x0]);
        const ab = a + wy * (b - a);
        const cd = c + wy * (d - c);
        out[idx++] = ab + wz * (cd - ab);
      }
    }
  }
}

function sampleGeneral(src: VoxelArray, inShape: Vec3, out: VoxelArray, outShape: Vec3, m: Affine, linear: boolean, zeros: boolean): void {
  const [nx, ny, nz] = inShape;
  const sy = nx;
  const sz = nx * ny;
  let idx = 0;
  for (let k = 0; k < outShape[2]; k++) {
    for (let j = 0; j < outShape[1]; j++) {
      for (let i = 0; i < outShape[0]; i++) {
        const x = snap(m[0][0] * i + m[0][1] * j + m[0][2] * k + m[0][3]);
        const y = snap(m[1][0] * i + m[1][1] * j + m[1][2] * k + m[1][3]);
        const z = snap(m[2][0] * i + m[2][1] * j + m[2][2] * k + m[2][3]);
        if (zeros && !(x >= -0.5 && x <= nx - 0.5 && y >= -0.5 && y <= ny - 0.5 && z >= -0.5 && z <= nz - 0.5)) {
          out[idx++] = 0;
          continue;
        }
        const cx = x < 0 ? 0 : x > nx - 1 ? nx - 1 : x;
        const cy = y < 0 ? 0 : y > ny - 1 ? ny - 1 : y;
        const cz = z < 0 ? 0 : z > nz - 1 ? nz - 1 : z;
        if (!linear) {
          const xi = Math.min(nx - 1, roundHalfEven(cx));
          const yi = Math.min(ny - 1, roundHalfEven(cy));
          const zi = Math.min(nz - 1, roundHalfEven(cz));
          out[idx++] = src[xi + yi * sy + zi * sz];
          continue;
        }
        const x0 = Math.floor(cx);
        const y0 = Math.floor(cy);
        const z0 = Math.floor(cz);
        const x1 = x0 < nx - 1 ? x0 + 1 : x0;
        const y1 = y0 < ny - 1 ? y0 + 1 : y0;
        const z1 = z0 < nz - 1 ? z0 + 1 : z0;
        const wx = cx - x0;
        const wy = cy - y0;
        const wz = cz - z0;
        const at = (xx: number, yy: number, zz: number): number => src[xx + yy * sy + zz * sz];
        const a = at(x0, y0, z0) + wx * (at(x1, y0, z0) - at(x0, y0, z0));
        const b = at(x0, y1, z0) + wx * (at(x1, y1, z0) - at(x0, y1, z0));
        const c = at(x0, y0, z1) + wx * (at(x1, y0, z1) - at(x0, y0, z1));
        const d = at(x0, y1, z1) + wx * (at(x1, y1, z1) - at(x0, y1, z1));
        const ab = a + wy * (b - a);
        const cd = c + wy * (d - c);
        out[idx++] = ab + wz * (cd - ab);
      }
    }
  }
}

/**
 * `volume` resampled onto the voxel grid of `target` (a Volume or `{ shape, affine }`): each
 * output voxel centre is mapped to world space by the target affine and back into the source by
 * the inverse source affine, then sampled trilinearly (`'linear'`, output Float32Array) or by
 * nearest neighbour (`'nearest'`, output keeps the input's type; ties round up). Any rotation
 * between the grids is handled; axis-aligned grids take a faster separable path.
 *
 * The result has the target's shape, affine and spacing, and the target's header when it has one
 * (otherwise a header built from the target affine with the source header's codes). This is the
 * way back after {@link resampleToSpacing}: `resampleLike(maskAt15mm, ct, 'nearest')`.
 */
export function resampleLike<T extends VoxelArray>(volume: Volume<T>, target: Grid, mode: 'nearest', options?: ResampleOptions): Volume<T>;
export function resampleLike(volume: Volume, target: Grid, mode: 'linear', options?: ResampleOptions): Volume<Float32Array>;
export function resampleLike(volume: Volume, target: Grid, mode: InterpolationMode, options?: ResampleOptions): Volume;
export function resampleLike(volume: Volume, target: Grid, mode: InterpolationMode, options: ResampleOptions = {}): Volume {
  assertVolume(volume);
  checkMode(mode);
  if (target === null || typeof target !== 'object') throw invalidArg('target', 'expected a Volume or { shape, affine }');
  assertShape(target.shape, 'target.shape');
  if (!Array.isArray(target.affine) || !isFiniteAffine(target.affine)) throw invalidArg('target.affine', 'expected a 4x4 array of finite numbers');
  const padding = options.padding ?? 'border';
  if (padding !== 'border' && padding !== 'zeros') throw invalidArg('options.padding', `expected 'border' or 'zeros', got ${String(padding)}`);
  const shape = [...target.shape] as Vec3;
  const spacing = target.spacing ? ([...target.spacing] as Vec3) : columnNorms(target.affine);
  if (!spacing.every((s) => Number.isFinite(s) && s > 0)) throw invalidArg('target.spacing', 'expected 3 positive numbers');

  const m = matmul4(invertAffine(volume.affine), target.affine).map((r) => r.map(snap));
  const n = shape[0] * shape[1] * shape[2];
  const linear = mode === 'linear';
  const out: VoxelArray = linear ? new Float32Array(n) : new (volume.data.constructor as { new (len: number): VoxelArray })(n);
  const separable = m[0][1] === 0 && m[0][2] === 0 && m[1][0] === 0 && m[1][2] === 0 && m[2][0] === 0 && m[2][1] === 0;
  (separable ? sampleSeparable : sampleGeneral)(volume.data, volume.shape, out, shape, m, linear, padding === 'zeros');

  const affine = cloneAffine(target.affine);
  const result: Volume = { data: out, shape, spacing, affine };
  if (target.header) result.header = target.header;
  else if (volume.header) result.header = geometryFromAffine(affine, spacing, shape, volume.header);
  return result;
}

function toVec3(v: Vec3 | number, name: string): Vec3 {
  const s = typeof v === 'number' ? ([v, v, v] as Vec3) : v;
  if (!Array.isArray(s) || s.length !== 3 || !s.every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0)) {
    throw invalidArg(name, `expected a positive number or 3 positive numbers, got ${String(v)}`);
  }
  return [...s] as Vec3;
}

/** The grid with voxel (0,0,0) fixed and voxel axes scaled by `factors` (new size / old size). */
function scaledGrid(volume: Volume, factors: Vec3, shape: Vec3): Grid {
  const affine = cloneAffine(volume.affine);
  for (let a = 0; a < 3; a++) for (let r = 0; r < 3; r++) affine[r][a] *= factors[a];
  const spacing = volume.spacing.map((s, a) => s * factors[a]) as Vec3;
  const grid: Grid = { shape, affine, spacing };
  if (volume.header) grid.header = geometryFromAffine(affine, spacing, shape, volume.header);
  return grid;
}

/**
 * `volume` resampled to voxels of `spacing` mm (one number for isotropic), keeping the centre of
 * voxel (0,0,0) and the axis directions; the shape becomes round((n - 1) * old / new) + 1 per
 * axis, so the new grid spans the old one's voxel centres. Use `'linear'` for images (output
 * float32) and `'nearest'` for labels (output keeps its type). Return to the original grid with
 * `resampleLike(result, original, mode)`.
 */
export function resampleToSpacing<T extends VoxelArray>(volume: Volume<T>, spacing: Vec3 | number, mode: 'nearest', options?: ResampleOptions): Volume<T>;
export function resampleToSpacing(volume: Volume, spacing: Vec3 | number, mode: 'linear', options?: ResampleOptions): Volume<Float32Array>;
export function resampleToSpacing(volume: Volume, spacing: Vec3 | number, mode: InterpolationMode, options?: ResampleOptions): Volume;
export function resampleToSpacing(volume: Volume, spacing: Vec3 | number, mode: InterpolationMode, options: ResampleOptions = {}): Volume {
  assertVolume(volume);
  checkMode(mode);
  const target = toVec3(spacing, 'spacing');
  const grid = spacingGrid(volume, target);
  if (volume.header) grid.header = geometryFromAffine(grid.affine, target, grid.shape, volume.header);
  return resampleLike(volume, grid, mode, options);
}

/**
 * The grid MONAI's Spacing (diagonal=False) resamples to: the affine's rotation (the orthogonal
 * factor Q of rzs = Q R, so a shear is dropped, as zoom_affine does) times the new voxel sizes,
 * with the sign of each axis kept; the shape is round-half-even(extent of the old voxel centres
 * in new voxels + 1), as compute_shape_offset; and the origin stays at voxel (0,0,0) when the
 * axis order and directions are unchanged, else moves to the lowest corner.
 */
export function spacingGrid(volume: Volume, target: Vec3): Grid {
  const rzs = linearPart(volume.affine);
  const r = choleskyUpper(rzs);
  const ri = invert3(r);
  const rotation = rzs.map((row) => [0, 1, 2].map((c) => row[0] * ri[0][c] + row[1] * ri[1][c] + row[2] * ri[2][c]));
  const signs = [0, 1, 2].map((a) => (r[a][a] < 0 ? -1 : 1));
  const affine: Affine = [0, 1, 2].map((row) => [...[0, 1, 2].map((c) => rotation[row][c] * signs[c] * target[c]), volume.affine[row][3]]);
  affine.push([0, 0, 0, 1]);
  // Old voxel centres at the corners of the volume, in new voxel coordinates.
  const toNew = matmul4(invertAffine(affine), volume.affine);
  const corners = [0, 1, 2, 3, 4, 5, 6, 7].map((c) => [c & 1 ? volume.shape[0] - 1 : 0, c & 2 ? volume.shape[1] - 1 : 0, c & 4 ? volume.shape[2] - 1 : 0]);
  const out = corners.map((p) => [0, 1, 2].map((row) => toNew[row][0] * p[0] + toNew[row][1] * p[1] + toNew[row][2] * p[2] + toNew[row][3]));
  const lo = [0, 1, 2].map((a) => Math.min(...out.map((p) => p[a])));
  const hi = [0, 1, 2].map((a) => Math.max(...out.map((p) => p[a])));
  const shape = [0, 1, 2].map((a) => Math.max(1, roundHalfEven(snap(hi[a] - lo[a]) + 1))) as Vec3;
  const sameOrientation = JSON.stringify(ioOrientation(volume.affine)) === JSON.stringify(ioOrientation(affine));
  if (!sameOrientation) {
    // MONAI: with another orientation the lowest corner becomes the origin.
    for (let row = 0; row < 3; row++) affine[row][3] = affine[row][0] * lo[0] + affine[row][1] * lo[1] + affine[row][2] * lo[2] + affine[row][3];
  }
  return { shape, affine, spacing: [...target] as Vec3 };
}

/** The upper-triangular R with R^T R = M^T M (numpy's cholesky(M^T M).T): M's QR factor. */
function choleskyUpper(m: number[][]): number[][] {
  const g = [0, 1, 2].map((i) => [0, 1, 2].map((j) => m[0][i] * m[0][j] + m[1][i] * m[1][j] + m[2][i] * m[2][j]));
  const l = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = g[i][j];
      for (let k = 0; k < j; k++) sum -= l[i][k] * l[j][k];
      if (i === j) {
        if (!(sum > 0)) throw invalidArg('volume.affine', 'is singular: its columns do not span three dimensions');
        l[i][i] = Math.sqrt(sum);
      } else l[i][j] = sum / l[j][j];
    }
  }
  return [0, 1, 2].map((i) => [0, 1, 2].map((j) => l[j][i]));
}

/**
 * `volume` resampled to `shape`, covering the same extent: voxel (0,0,0) and the last voxel centre
 * along each axis stay where they are ("align corners"), so the spacing becomes
 * old * (n - 1) / (m - 1). An axis of one voxel, before or after, keeps voxel 0 and scales the
 * spacing by n / m instead. Modes as in {@link resampleToSpacing}.
 */
export function resampleToShape<T extends VoxelArray>(volume: Volume<T>, shape: Vec3, mode: 'nearest', options?: ResampleOptions): Volume<T>;
export function resampleToShape(volume: Volume, shape: Vec3, mode: 'linear', options?: ResampleOptions): Volume<Float32Array>;
export function resampleToShape(volume: Volume, shape: Vec3, mode: InterpolationMode, options?: ResampleOptions): Volume;
export function resampleToShape(volume: Volume, shape: Vec3, mode: InterpolationMode, options: ResampleOptions = {}): Volume {
  assertVolume(volume);
  checkMode(mode);
  assertShape(shape, 'shape');
  const factors = volume.shape.map((n, a) => (n > 1 && shape[a] > 1 ? (n - 1) / (shape[a] - 1) : n / shape[a])) as Vec3;
  return resampleLike(volume, scaledGrid(volume, factors, [...shape] as Vec3), mode, options);
}
