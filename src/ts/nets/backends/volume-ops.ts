/**
 * The voxel operations segment() needs around the networks, on whichever side can run them: the
 * addon's (native/ops.ts, off the JS thread) when it loads, else the TypeScript implementations of
 * the same algorithms (transforms/resize.ts's area resize, components.ts). Each algorithm has one
 * implementation per language, and tests hold the two to the same results.
 */
import type { NativeArray } from '../../native/dtypes';
import { nativeAvailable } from '../../native/loader';
import { labelComponents as labelComponentsNative, largestComponent, resizeNative } from '../../native/ops';
import { resizeAreaData } from '../../transforms/resize';
import type { Vec3 } from '../../volume';
import { labelComponentsTs, largestComponentTs, LargestComponentResult } from './components';

/** Where the voxel operations run: 'native' when the addon loads, else 'typescript'. */
export function volumeOpsBackend(): 'native' | 'typescript' {
  return nativeAvailable() ? 'native' : 'typescript';
}

/** Area resize (PyTorch's adaptive-average bins) of a [ni, nj, nk] volume to `size`. */
export async function resizeArea(data: NativeArray, shape: Vec3, size: Vec3): Promise<NativeArray> {
  if (nativeAvailable()) return resizeNative(data, shape, size, 'area');
  await new Promise((r) => setImmediate(r));
  return resizeAreaData(data, shape, size);
}

/** Keeps each value's largest 26-connected component (MONAI's KeepLargestConnectedComponent). */
export async function keepLargestComponent(mask: Uint8Array, shape: Vec3): Promise<LargestComponentResult> {
  if (nativeAvailable()) return largestComponent(mask, shape);
  await new Promise((r) => setImmediate(r));
  return largestComponentTs(mask, shape);
}

/** Labels 26-connected components 1..n by decreasing size. */
export async function labelComponents(mask: Uint8Array, shape: Vec3): Promise<{ labels: Int32Array; sizes: number[] }> {
  if (nativeAvailable()) return labelComponentsNative(mask, shape);
  await new Promise((r) => setImmediate(r));
  return labelComponentsTs(mask, shape);
}
