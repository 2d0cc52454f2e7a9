/** Voxel operations that run natively (off the JS thread), on volumes in NIfTI order. */
import type { NativeArray } from '../native/binding';
import { loadBinding } from '../native/loader';
import { adopt, native, reverse3, Size3 } from '../native/tensors';

/** Resize a [ni, nj, nk] volume: 'area' (images, PyTorch adaptive-average bins), 'nearest' (labels) or 'linear'. */
export async function resizeNative(data: NativeArray, shape: Size3, size: Size3, mode: 'area' | 'nearest' | 'linear'): Promise<NativeArray> {
  const out = await native(loadBinding().resize({ data, shape: reverse3(shape) }, reverse3(size), mode));
  return adopt(out.data);
}

/** Keeps the largest connected component (26-connected by default); returns a new mask and counts. */
export async function largestComponent(
  mask: Uint8Array,
  shape: Size3,
  connectivity: 6 | 18 | 26 = 26,
): Promise<{ mask: Uint8Array; components: number; keptVoxels: number }> {
  const out = await native(loadBinding().largestComponent({ data: mask, shape: reverse3(shape) }, connectivity));
  return { mask: adopt(out.data), components: out.components, keptVoxels: out.keptVoxels };
}

/** Labels connected components 1..n by decreasing size. */
export async function labelComponents(mask: Uint8Array, shape: Size3, connectivity: 6 | 18 | 26 = 26): Promise<{ labels: Int32Array; sizes: number[] }> {
  const out = await native(loadBinding().labelComponents({ data: mask, shape: reverse3(shape) }, connectivity));
  return { labels: adopt(out.data), sizes: out.sizes };
}
