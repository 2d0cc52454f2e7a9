/** Small in-memory volumes for the transform and data tests. */
import type { Affine, Vec3, Volume, VoxelArray } from '../../src/ts/volume';

/** A volume over `data` with the given shape; affine diag(spacing) with `origin`, unless `affine` is given (spacing then defaults to its column norms). */
export function vol<T extends VoxelArray>(data: T, shape: Vec3, opts: { spacing?: Vec3; origin?: Vec3; affine?: Affine } = {}): Volume<T> {
  const fromAffine = opts.affine && ([0, 1, 2].map((c) => Math.hypot(opts.affine![0][c], opts.affine![1][c], opts.affine![2][c])) as Vec3);
  const spacing = opts.spacing ?? fromAffine ?? [1, 1, 1];
  const o = opts.origin ?? [0, 0, 0];
  const affine = opts.affine ?? [
    [spacing[0], 0, 0, o[0]],
    [0, spacing[1], 0, o[1]],
    [0, 0, spacing[2], o[2]],
    [0, 0, 0, 1],
  ];
  return { data, shape, spacing: [...spacing] as Vec3, affine };
}

/** Voxel values f(i, j, k) on a grid, as a float32 volume. */
export function fromFn(shape: Vec3, f: (i: number, j: number, k: number) => number, opts: Parameters<typeof vol>[2] = {}): Volume<Float32Array> {
  const [ni, nj, nk] = shape;
  const d = new Float32Array(ni * nj * nk);
  for (let k = 0; k < nk; k++) for (let j = 0; j < nj; j++) for (let i = 0; i < ni; i++) d[i + ni * (j + nj * k)] = f(i, j, k);
  return vol(d, shape, opts);
}

/** Value at (i, j, k). */
export function at(v: Volume, i: number, j: number, k: number): number {
  return v.data[i + v.shape[0] * (j + v.shape[1] * k)];
}

/** World coordinates of voxel (i, j, k). */
export function world(a: Affine, i: number, j: number, k: number): Vec3 {
  return [0, 1, 2].map((r) => a[r][0] * i + a[r][1] * j + a[r][2] * k + a[r][3]) as Vec3;
}

/** A unique value per voxel (its linear index), so any misplaced voxel shows. */
export function indexVolume(shape: Vec3, opts: Parameters<typeof vol>[2] = {}): Volume<Float32Array> {
  return fromFn(shape, (i, j, k) => i + shape[0] * (j + shape[1] * k), opts);
}
