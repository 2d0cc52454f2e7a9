/** Voxel operations that run natively (off the JS thread), on volumes in NIfTI order. */
import type { Vec3 } from '../volume';
import type { NativeArray } from './dtypes';
import { adopt } from './dtypes';
import { loadBinding } from './loader';
import { native, reverse3 } from './tensors';

/** Connectivity of a voxel's neighbourhood: faces (6), faces and edges (18), or all 26 neighbours. */
export type Connectivity = 6 | 18 | 26;

/** Resize a [ni, nj, nk] volume: 'area' (images, PyTorch adaptive-average bins), 'nearest' (labels) or 'linear'. */
export async function resizeNative(data: NativeArray, shape: Vec3, size: Vec3, mode: 'area' | 'nearest' | 'linear'): Promise<NativeArray> {
  const out = await native(loadBinding().resize({ data, shape: reverse3(shape) }, reverse3(size), mode));
  return adopt(out.data);
}

/** Keeps the largest connected component (26-connected by default); returns a new mask and counts. */
export async function largestComponent(
  mask: Uint8Array,
  shape: Vec3,
  connectivity: Connectivity = 26,
): Promise<{ mask: Uint8Array; components: number; keptVoxels: number }> {
  const out = await native(loadBinding().largestComponent({ data: mask, shape: reverse3(shape) }, connectivity));
  return { mask: adopt(out.data), components: out.components, keptVoxels: out.keptVoxels };
}

/** Labels connected components 1..n by decreasing size. */
export async function labelComponents(mask: Uint8Array, shape: Vec3, connectivity: Connectivity = 26): Promise<{ labels: Int32Array; sizes: number[] }> {
  const out = await native(loadBinding().labelComponents({ data: mask, shape: reverse3(shape) }, connectivity));
  return { labels: adopt(out.data), sizes: out.sizes };
}
