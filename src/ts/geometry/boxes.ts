/**
 * Axis-aligned boxes in voxel indices, [start, end) per axis: the bounding box of selected voxels,
 * widened by a margin, and mapped between a resized grid and the full one. CropForeground, the
 * coarse stage of `segment()` and `liverseg-prepare` all cut their regions with these.
 */
import type { Vec3 } from '../volume';

/** A box in voxel indices: [start, end) per axis. A padded box may start below 0 or end past the shape. */
export interface Box {
  start: Vec3;
  end: Vec3;
}

/** Which voxels a bounding box covers: value > threshold (default 0), or a custom test. */
export interface BoxSelection {
  threshold?: number;
  select?: (value: number) => boolean;
}

/** The box's size per axis. */
export function boxSize(box: Box): Vec3 {
  return [box.end[0] - box.start[0], box.end[1] - box.start[1], box.end[2] - box.start[2]];
}

/** The bounding box of the selected voxels of an [ni, nj, nk] array (i fastest), or null when none is selected. */
export function boundingBox(data: ArrayLike<number>, shape: Vec3, selection: BoxSelection = {}): Box | null {
  const [ni, nj, nk] = shape;
  const { select } = selection;
  const thr = selection.threshold ?? 0;
  let i0 = ni,
    j0 = nj,
    k0 = nk,
    i1 = -1,
    j1 = -1,
    k1 = -1;
  let v = 0;
  for (let k = 0; k < nk; k++) {
    for (let j = 0; j < nj; j++) {
      let rowMin = -1;
      let rowMax = -1;
      // Two loops rather than one with a branch per voxel: the threshold path is the hot one.
      if (select) {
        for (let i = 0; i < ni; i++, v++) {
          if (select(data[v])) {
            if (rowMin < 0) rowMin = i;
            rowMax = i;
          }
        }
      } else {
        for (let i = 0; i < ni; i++, v++) {
          if (data[v] > thr) {
            if (rowMin < 0) rowMin = i;
            rowMax = i;
          }
        }
      }
      if (rowMin >= 0) {
        if (rowMin < i0) i0 = rowMin;
        if (rowMax > i1) i1 = rowMax;
        if (j < j0) j0 = j;
        if (j > j1) j1 = j;
        if (k < k0) k0 = k;
        if (k > k1) k1 = k;
      }
    }
  }
  if (i1 < 0) return null;
  return { start: [i0, j0, k0], end: [i1 + 1, j1 + 1, k1 + 1] };
}

/** `box` widened by `margin` voxels on each side; 'clip' keeps it inside `shape`, 'pad' lets it run past. */
export function widenBox(box: Box, margin: Vec3, shape: Vec3, boundary: 'clip' | 'pad' = 'clip'): Box {
  const start = [0, 1, 2].map((a) => box.start[a] - margin[a]) as Vec3;
  const end = [0, 1, 2].map((a) => box.end[a] + margin[a]) as Vec3;
  if (boundary === 'clip') {
    for (let a = 0; a < 3; a++) {
      start[a] = Math.max(0, start[a]);
      end[a] = Math.min(shape[a], end[a]);
    }
  }
  return { start, end };
}

/** Maps a box on a resized grid back to the full grid, covering every full voxel it touches, widened by `margin` and clipped. */
export function mapBoxToFull(box: Box, small: Vec3, full: Vec3, margin: number): Box {
  const start = [0, 1, 2].map((a) => Math.max(0, Math.floor((box.start[a] * full[a]) / small[a]) - margin)) as Vec3;
  const end = [0, 1, 2].map((a) => Math.min(full[a], Math.ceil((box.end[a] * full[a]) / small[a]) + margin)) as Vec3;
  return { start, end };
}
