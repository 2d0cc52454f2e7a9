/**
 * The sliding-window scan as MONAI's dense_patch_slices lays it out: along each axis windows
 * start every int(roi * (1 - overlap)) voxels, the last one pulled back to end at the edge; an
 * axis no longer than the window gets one window. cpp/core/inferers/sliding_window.cc runs the
 * same plan; this copy only counts, so a caller's options can be refused before any work.
 */
import { invalidArg } from '../errors';
import type { Vec3 } from '../volume';

/** More windows than this in one volume is refused: overlap 0.99 turned a 1 s segmentation into 6 minutes. */
export const MAX_WINDOWS = 10_000;

/** Window starts along one axis of `size` voxels. */
export function windowStarts(size: number, roi: number, overlap: number): number[] {
  if (size <= roi) return [0];
  const step = Math.max(1, Math.floor(roi * (1 - overlap)));
  const starts: number[] = [];
  for (let s = 0; s + roi < size; s += step) starts.push(s);
  starts.push(size - roi);
  return starts;
}

/** How many windows cover a volume. */
export function windowCount(shape: Vec3, roi: Vec3, overlap: number): number {
  return [0, 1, 2].reduce((n, a) => n * windowStarts(shape[a], roi[a], overlap).length, 1);
}

/** Refuses an overlap that would need more than MAX_WINDOWS windows, naming the option as the caller wrote it. */
export function checkWindowCount(shape: Vec3, roi: Vec3, overlap: number, optionName: string): void {
  const n = windowCount(shape, roi, overlap);
  if (n > MAX_WINDOWS) {
    throw invalidArg(
      optionName,
      `overlap ${overlap} needs ${n} windows of ${roi.join('x')} over ${shape.join('x')} voxels (at most ${MAX_WINDOWS}); use a smaller overlap (MONAI's default is 0.25)`,
    );
  }
}
