/**
 * The geometry of a stack of DICOM slices: slices sorted along their normal, spacing from the
 * positions (never from SliceThickness), checks for a gantry tilt, missing slices and uneven
 * spacing, and the voxel -> RAS affine. DICOM positions are LPS; RAS flips x and y.
 *
 * Voxel order follows the files (as ITK and MONAI read DICOM): i runs along a row (the column
 * index), j down the rows, k along the slice normal in increasing position.
 */
import { fileError } from '../../errors';
import type { Affine, Vec3 } from '../../volume';

const dot = (a: readonly number[], b: readonly number[]): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const sub = (a: readonly number[], b: readonly number[]): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const norm = (a: readonly number[]): number => Math.hypot(a[0], a[1], a[2]);
export const cross = (a: readonly number[], b: readonly number[]): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];

/** Row direction, column direction and slice normal (unit vectors, LPS) of an ImageOrientationPatient. */
export function directions(iop: readonly number[]): { row: Vec3; col: Vec3; normal: Vec3 } {
  const unit = (v: readonly number[]): Vec3 => {
    const n = norm(v);
    return [v[0] / n, v[1] / n, v[2] / n];
  };
  const row = unit(iop.slice(0, 3));
  const col = unit(iop.slice(3, 6));
  return { row, col, normal: unit(cross(row, col)) };
}

/** Checks an ImageOrientationPatient is two finite, non-zero, orthogonal vectors. */
export function validOrientation(iop: readonly number[] | null): boolean {
  if (!iop || iop.length !== 6 || !iop.every(Number.isFinite)) return false;
  const r = iop.slice(0, 3);
  const c = iop.slice(3, 6);
  const nr = norm(r);
  const nc = norm(c);
  return nr > 0.5 && nc > 0.5 && Math.abs(dot(r, c) / (nr * nc)) < 1e-3;
}

/** A name for the plane a slice normal is closest to. */
export function planeName(iop: readonly number[]): 'axial' | 'coronal' | 'sagittal' | 'oblique' {
  const { normal } = directions(iop);
  const a = normal.map(Math.abs);
  const m = Math.max(...a);
  if (m < 0.9) return 'oblique';
  return a[2] === m ? 'axial' : a[1] === m ? 'coronal' : 'sagittal';
}

/** The voxel -> RAS affine: i along the row direction (column spacing), j along the column direction (row spacing), k along `step`. */
export function dicomAffine(iop: readonly number[], origin: readonly number[], pixelSpacing: readonly [number, number], step: readonly number[]): Affine {
  const { row, col } = directions(iop);
  const [dr, dc] = pixelSpacing;
  const lps = [
    [row[0] * dc, col[0] * dr, step[0], origin[0]],
    [row[1] * dc, col[1] * dr, step[1], origin[1]],
    [row[2] * dc, col[2] * dr, step[2], origin[2]],
  ];
  return [lps[0].map((v) => -v), lps[1].map((v) => -v), lps[2], [0, 0, 0, 1]];
}

export interface SliceGeometryInput {
  file: string;
  position: Vec3;
}

/** Where the slices' spacing is not even, for the error message and for resampling. */
export interface SpacingProblem {
  kind: 'missing-slice' | 'uneven';
  /** The gap between sorted slices `at` and `at + 1`. */
  at: number;
  gap: number;
  spacing: number;
}

export interface StackGeometry {
  /** Indices into the input, in slice order (increasing position along the normal). */
  order: number[];
  /** Distance of each sorted slice along the normal (mm). */
  distances: number[];
  /** The typical (median) slice spacing in mm. */
  spacing: number;
  /** Angle between the slice normal and the line through the slice positions, in degrees. */
  tiltDegrees: number;
  spacingProblems: SpacingProblem[];
}

/** Tolerances: spacing may vary by 1% or 0.01 mm (scanners round positions), and 0.05 degrees of tilt is rounding too. */
const SPACING_RTOL = 0.01;
const SPACING_ATOL = 0.01;
const TILT_DEGREES = 0.05;

/** Sorts slices along the normal and measures their spacing and tilt. Duplicated positions are an error. */
export function stackGeometry(iop: readonly number[], slices: readonly SliceGeometryInput[], series: string): StackGeometry {
  const { normal } = directions(iop);
  const d = slices.map((s) => dot(normal, s.position));
  const order = slices.map((_, i) => i).sort((a, b) => d[a] - d[b]);
  const distances = order.map((i) => d[i]);
  if (slices.length === 1) return { order, distances, spacing: 0, tiltDegrees: 0, spacingProblems: [] };
  const gaps = distances.slice(1).map((x, i) => x - distances[i]);
  const sorted = [...gaps].sort((a, b) => a - b);
  const spacing = sorted[Math.floor((sorted.length - 1) / 2)];
  for (let i = 0; i < gaps.length; i++) {
    if (gaps[i] <= Math.max(1e-3, 1e-3 * spacing)) {
      const a = slices[order[i]].file;
      const b = slices[order[i + 1]].file;
      throw fileError(
        'ERR_DICOM_GEOMETRY',
        series,
        `two slices at the same position (${distances[i].toFixed(3)} mm along the normal): ${a} and ${b}; ` +
          `the series may hold several acquisitions, pick the files of one`,
      );
    }
  }
  const spacingProblems: SpacingProblem[] = [];
  const tol = Math.max(SPACING_ATOL, SPACING_RTOL * spacing);
  gaps.forEach((g, at) => {
    if (Math.abs(g - spacing) <= tol) return;
    const ratio = g / spacing;
    const kind = ratio > 1.5 && Math.abs(ratio - Math.round(ratio)) < 0.1 ? 'missing-slice' : 'uneven';
    spacingProblems.push({ kind, at, gap: g, spacing });
  });
  const first = slices[order[0]].position;
  const last = slices[order[order.length - 1]].position;
  const through = sub(last, first);
  const cos = Math.min(1, Math.abs(dot(through, normal)) / norm(through));
  return { order, distances, spacing, tiltDegrees: (Math.acos(cos) * 180) / Math.PI, spacingProblems };
}

export function hasTilt(g: StackGeometry): boolean {
  return g.tiltDegrees > TILT_DEGREES;
}
