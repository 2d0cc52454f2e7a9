/**
 * Liver statistics from a mask and its CT: volume in millilitres, voxel count, the HU distribution
 * inside the liver, bounding box in voxels and millimetres, centroid in RAS millimetres, and which
 * faces of the scan the liver touches, so a liver cut off by the field of view is flagged rather
 * than reported as small.
 */
import { invalidArg } from '../errors';
import { affinesClose, det3, linearPart } from '../geometry/affine';
import { ioOrientation } from '../geometry/orientation';
import { assertVolume, Vec3, Volume, voxelCount } from '../volume';

/** A face of the scanned box, named by the patient direction it faces. */
export type ScanFace = 'right' | 'left' | 'anterior' | 'posterior' | 'superior' | 'inferior';

export interface HuStats {
  mean: number;
  /** Population standard deviation (numpy's default, ddof = 0). */
  std: number;
  median: number;
  /** Percentiles by linear interpolation between order statistics (numpy's default). */
  p5: number;
  p95: number;
  min: number;
  max: number;
}

export interface LiverStats {
  voxels: number;
  /** voxels x the voxel volume (|det| of the affine's 3x3 part), in ml. */
  volumeMl: number;
  voxelVolumeMl: number;
  /** HU inside the liver; null for an empty mask. */
  hu: HuStats | null;
  /** [start, end) voxel indices per axis of the volume as given; null for an empty mask. */
  bboxVoxels: { start: Vec3; end: Vec3 } | null;
  /** The box's outer edges in RAS mm (min and max corner over its 8 corners), and its size along the voxel axes in mm. */
  bboxMm: { min: Vec3; max: Vec3; size: Vec3 } | null;
  /** Mean position of the liver's voxel centres, RAS mm. */
  centroidRas: Vec3 | null;
  /** Faces of the scan the liver reaches (a voxel on the first or last slice of that side). */
  touches: ScanFace[];
  /** True when `touches` is not empty: part of the liver may lie outside the scan, so the volume is a lower bound. */
  truncated: boolean;
}

const FACE: Record<number, [ScanFace, ScanFace]> = {
  // world axis -> [face at the low-coordinate end, face at the high-coordinate end] in RAS
  0: ['left', 'right'],
  1: ['posterior', 'anterior'],
  2: ['inferior', 'superior'],
};

function percentile(sorted: Float64Array, p: number): number {
  const pos = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Statistics of the liver `mask` (non-zero = liver) on the grid of `ct` (HU).
 * @example
 * const mask = await segment(ct, { model });
 * const s = liverStats(mask, ct);
 * console.log(`${s.volumeMl.toFixed(0)} ml, mean ${s.hu?.mean.toFixed(0)} HU${s.truncated ? ' (cut off at ' + s.touches.join(', ') + ')' : ''}`);
 */
export function liverStats(mask: Volume, ct: Volume): LiverStats {
  assertVolume(mask, 'mask');
  assertVolume(ct, 'ct');
  if (!mask.shape.every((s, a) => s === ct.shape[a])) {
    throw invalidArg('mask', `is ${mask.shape.join('x')} but the CT is ${ct.shape.join('x')}: they must share one grid`, 'ERR_SHAPE_MISMATCH');
  }
  if (!affinesClose(mask.affine, ct.affine, 1e-6, 1e-4))
    throw invalidArg('mask', 'has another affine than the CT: they must share one grid', 'ERR_GEOMETRY_MISMATCH');
  const [ni, nj, nk] = ct.shape;
  const m = mask.data;
  const v = ct.data;
  let count = 0;
  let si = 0,
    sj = 0,
    sk = 0;
  let i0 = ni,
    j0 = nj,
    k0 = nk,
    i1 = -1,
    j1 = -1,
    k1 = -1;
  let idx = 0;
  for (let k = 0; k < nk; k++) {
    for (let j = 0; j < nj; j++) {
      for (let i = 0; i < ni; i++, idx++) {
        if (m[idx] === 0) continue;
        count++;
        si += i;
        sj += j;
        sk += k;
        if (i < i0) i0 = i;
        if (i > i1) i1 = i;
        if (j < j0) j0 = j;
        if (j > j1) j1 = j;
        if (k < k0) k0 = k;
        if (k > k1) k1 = k;
      }
    }
  }
  const voxelVolumeMl = Math.abs(det3(linearPart(ct.affine))) / 1000;
  const out: LiverStats = {
    voxels: count,
    volumeMl: count * voxelVolumeMl,
    voxelVolumeMl,
    hu: null,
    bboxVoxels: null,
    bboxMm: null,
    centroidRas: null,
    touches: [],
    truncated: false,
  };
  if (count === 0) return out;

  const values = new Float64Array(count);
  let n = 0;
  let sum = 0;
  for (let i = 0; i < voxelCount(ct.shape); i++) {
    if (m[i] !== 0) {
      const x = v[i];
      values[n++] = x;
      sum += x;
    }
  }
  const mean = sum / count;
  let sq = 0;
  for (let i = 0; i < count; i++) sq += (values[i] - mean) ** 2;
  values.sort();
  out.hu = {
    mean,
    std: Math.sqrt(sq / count),
    median: percentile(values, 50),
    p5: percentile(values, 5),
    p95: percentile(values, 95),
    min: values[0],
    max: values[count - 1],
  };

  const a = ct.affine;
  const world = (i: number, j: number, k: number): Vec3 => [0, 1, 2].map((r) => a[r][0] * i + a[r][1] * j + a[r][2] * k + a[r][3]) as Vec3;
  out.centroidRas = world(si / count, sj / count, sk / count);
  out.bboxVoxels = { start: [i0, j0, k0], end: [i1 + 1, j1 + 1, k1 + 1] };
  const min: Vec3 = [Infinity, Infinity, Infinity];
  const max: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (const ci of [i0 - 0.5, i1 + 0.5]) {
    for (const cj of [j0 - 0.5, j1 + 0.5]) {
      for (const ck of [k0 - 0.5, k1 + 0.5]) {
        const p = world(ci, cj, ck);
        for (let r = 0; r < 3; r++) {
          min[r] = Math.min(min[r], p[r]);
          max[r] = Math.max(max[r], p[r]);
        }
      }
    }
  }
  out.bboxMm = { min, max, size: [(i1 + 1 - i0) * ct.spacing[0], (j1 + 1 - j0) * ct.spacing[1], (k1 + 1 - k0) * ct.spacing[2]] };

  // A face is touched when the liver reaches the first or last index along a voxel axis.
  const { axes, flips } = ioOrientation(ct.affine);
  const lows = [i0, j0, k0];
  const highs = [i1, j1, k1];
  for (let ax = 0; ax < 3; ax++) {
    const [lowFace, highFace] = FACE[axes[ax]];
    // Increasing the index moves towards R/A/S when flips[ax] > 0.
    const atIndex0 = flips[ax] > 0 ? lowFace : highFace;
    const atIndexN = flips[ax] > 0 ? highFace : lowFace;
    if (lows[ax] === 0) out.touches.push(atIndex0);
    if (highs[ax] === ct.shape[ax] - 1) out.touches.push(atIndexN);
  }
  const order: ScanFace[] = ['superior', 'inferior', 'right', 'left', 'anterior', 'posterior'];
  out.touches = [...new Set(out.touches)].sort((x, y) => order.indexOf(x) - order.indexOf(y));
  out.truncated = out.touches.length > 0;
  return out;
}
