/** Voxel-type helpers that sit between file I/O and the numeric layers. */
import { invalidArg } from '../errors';
import { assertVolume, Volume, VoxelArray } from '../volume';

/**
 * The volume with float32 data, which is what the network and most transforms work on.
 * A volume that is already float32 is returned as is (same object, no copy); otherwise the data
 * is converted once, in a single pass, and the geometry (header included) is shared.
 */
export function toFloat32(volume: Volume): Volume<Float32Array> {
  assertVolume(volume);
  if (volume.data instanceof Float32Array) return volume as Volume<Float32Array>;
  // The typed-array constructor converts element by element in native code, far faster than a JS loop.
  const data = new Float32Array(volume.data);
  const out: Volume<Float32Array> = { data, shape: volume.shape, spacing: volume.spacing, affine: volume.affine };
  if (volume.header) out.header = volume.header;
  return out;
}

/**
 * How many voxels are NaN or infinite. Integer data never has any. liverseg's readers keep such
 * voxels (a file is reported as it is); training and inference reject volumes where this is
 * non-zero with ERR_NON_FINITE.
 */
export function countNonFinite(volume: Volume | VoxelArray): number {
  const data = ArrayBuffer.isView(volume) ? volume : volume.data;
  if (!(data instanceof Float32Array || data instanceof Float64Array)) return 0;
  let n = 0;
  for (let i = firstNonFinite(data); i >= 0; i = firstNonFinite(data, i + 1)) n++;
  return n;
}

/** Index of the first NaN or infinite element at or after `from`, or -1. */
export function firstNonFinite(data: Float32Array | Float64Array, from = 0): number {
  for (let i = from; i < data.length; i++) {
    const v = data[i];
    // v - v is NaN exactly when v is NaN or +-Infinity: one comparison per voxel.
    if (v - v !== 0) return i;
  }
  return -1;
}

/** Largest finite float32: values beyond it would become Infinity on the way to the network. */
const FLOAT32_MAX = 3.4028234663852886e38;
/** Voxels scanned between yields to the event loop (about a millisecond of work). */
const SCAN_CHUNK = 1 << 20;

/**
 * Rejects data the network cannot take: NaN or infinite voxels, and Float64 voxels outside
 * float32's range (they would overflow to Infinity when converted). Scans in chunks and yields
 * between them, so a 500 MB volume does not stall the event loop. Integer data passes at once.
 */
export async function assertFiniteVoxels(data: ArrayLike<number>, name: string): Promise<void> {
  const wide = data instanceof Float64Array;
  if (!(data instanceof Float32Array || wide)) return;
  for (let start = 0; start < data.length; start += SCAN_CHUNK) {
    const end = Math.min(data.length, start + SCAN_CHUNK);
    for (let i = start; i < end; i++) {
      const v = data[i];
      if (v - v !== 0) throw invalidArg(name, `contains a non-finite value (${v}) at index ${i}`, 'ERR_NON_FINITE');
      if (wide && (v > FLOAT32_MAX || v < -FLOAT32_MAX))
        throw invalidArg(name, `value ${v} at index ${i} is outside float32's range and would overflow to infinity`, 'ERR_NON_FINITE');
    }
    if (end < data.length) await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
