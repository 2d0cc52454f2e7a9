/**
 * Small 4x4 / 3x3 matrix helpers for voxel-to-world affines, plus the NIfTI quaternion
 * conversions. Everything is plain `number[][]` in double precision, row-major.
 */
import type { Affine, Vec3 } from '../volume';
import { invalidArg } from '../errors';

export type Mat3 = number[][];

/** A deep copy, so callers can hand out affines without sharing rows. */
export function cloneAffine(a: Affine): Affine {
  return a.map((r) => [...r]);
}

/** The product a * b of two 4x4 matrices (apply b first, then a). */
export function matmul4(a: Affine, b: Affine): Affine {
  const out: Affine = [];
  for (let r = 0; r < 4; r++) {
    const row: number[] = [];
    for (let c = 0; c < 4; c++) {
      row.push(a[r][0] * b[0][c] + a[r][1] * b[1][c] + a[r][2] * b[2][c] + a[r][3] * b[3][c]);
    }
    out.push(row);
  }
  return out;
}

/** Determinant of a 3x3 matrix; negative for a left-handed voxel-to-world mapping. */
export function det3(m: Mat3): number {
  return (
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
  );
}

/** The 3x3 rotation-zoom-shear block of an affine. */
export function linearPart(a: Affine): Mat3 {
  return [a[0].slice(0, 3), a[1].slice(0, 3), a[2].slice(0, 3)];
}

/** Inverse of a 3x3 matrix by cofactors; throws ERR_INVALID_ARG when singular. */
export function invert3(m: Mat3): Mat3 {
  const d = det3(m);
  if (!Number.isFinite(d) || d === 0) throw invalidArg('affine', 'is singular (its 3x3 part has no inverse)');
  const inv = (r: number, c: number): number => {
    // cofactor of element (c, r): the transpose is folded into the index order
    const rows = [0, 1, 2].filter((x) => x !== c);
    const cols = [0, 1, 2].filter((x) => x !== r);
    const minor = m[rows[0]][cols[0]] * m[rows[1]][cols[1]] - m[rows[0]][cols[1]] * m[rows[1]][cols[0]];
    return ((r + c) % 2 === 0 ? minor : -minor) / d;
  };
  return [
    [inv(0, 0), inv(0, 1), inv(0, 2)],
    [inv(1, 0), inv(1, 1), inv(1, 2)],
    [inv(2, 0), inv(2, 1), inv(2, 2)],
  ];
}

/** Inverse of an affine whose last row is [0, 0, 0, 1]. */
export function invertAffine(a: Affine): Affine {
  const li = invert3(linearPart(a));
  const t = [a[0][3], a[1][3], a[2][3]];
  const out: Affine = [];
  for (let r = 0; r < 3; r++) {
    out.push([li[r][0], li[r][1], li[r][2], -(li[r][0] * t[0] + li[r][1] * t[1] + li[r][2] * t[2])]);
  }
  out.push([0, 0, 0, 1]);
  return out;
}

/** Euclidean norms of the first three columns: the voxel size along each voxel axis. */
export function columnNorms(a: Affine): Vec3 {
  const n = (c: number): number => Math.hypot(a[0][c], a[1][c], a[2][c]);
  return [n(0), n(1), n(2)];
}

/** True for a 4x4 array of finite numbers. */
export function isFiniteAffine(a: Affine): boolean {
  return a.length === 4 && a.every((r) => r.length === 4 && r.every(Number.isFinite));
}

/** True when every element differs by at most `atol + rtol * |b|`. */
export function affinesClose(a: Affine, b: Affine, rtol = 1e-6, atol = 1e-6): boolean {
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      if (!(Math.abs(a[r][c] - b[r][c]) <= atol + rtol * Math.abs(b[r][c]))) return false;
    }
  }
  return true;
}

/**
 * The orthogonal matrix closest to `m` (the rotation factor of its polar decomposition), by
 * Newton's iteration X <- (X + X^-T) / 2. It converges quadratically for any non-singular input,
 * which is all we need for 3x3 direction matrices; it avoids carrying a general SVD.
 */
export function closestOrthogonal(m: Mat3): Mat3 {
  let x = m.map((r) => [...r]);
  for (let it = 0; it < 100; it++) {
    const inv = invert3(x);
    const next = x.map((r, i) => r.map((v, j) => 0.5 * (v + inv[j][i])));
    let diff = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) diff = Math.max(diff, Math.abs(next[i][j] - x[i][j]));
    x = next;
    if (diff < 1e-15) break;
  }
  return x;
}

/** Quaternion parameters as NIfTI stores them: (b, c, d) with a >= 0 implied. */
export interface Quatern {
  b: number;
  c: number;
  d: number;
  qoffsetX: number;
  qoffsetY: number;
  qoffsetZ: number;
  /** pixdim[0]: -1 flips the third axis, anything else is +1. */
  qfac: number;
}

/**
 * The qform affine (NIfTI "method 2"). Follows the standard's rule that a slightly
 * over-unit (b, c, d) is renormalised with a = 0 rather than rejected, since float32
 * round-off routinely produces that for 180-degree rotations.
 */
export function quaternToAffine(q: Quatern, pixdim: Vec3): Affine {
  let { b, c, d } = q;
  let a = 1 - (b * b + c * c + d * d);
  if (a < 1e-7) {
    const s = 1 / Math.sqrt(b * b + c * c + d * d);
    b *= s;
    c *= s;
    d *= s;
    a = 0;
  } else {
    a = Math.sqrt(a);
  }
  const xd = pixdim[0] > 0 ? pixdim[0] : 1;
  const yd = pixdim[1] > 0 ? pixdim[1] : 1;
  let zd = pixdim[2] > 0 ? pixdim[2] : 1;
  if (q.qfac < 0) zd = -zd;
  return [
    [(a * a + b * b - c * c - d * d) * xd, 2 * (b * c - a * d) * yd, 2 * (b * d + a * c) * zd, q.qoffsetX],
    [2 * (b * c + a * d) * xd, (a * a + c * c - b * b - d * d) * yd, 2 * (c * d - a * b) * zd, q.qoffsetY],
    [2 * (b * d - a * c) * xd, 2 * (c * d + a * b) * yd, (a * a + d * d - c * c - b * b) * zd, q.qoffsetZ],
    [0, 0, 0, 1],
  ];
}

/**
 * The quaternion representation of an affine's rotation (the nearest rigid one when the affine
 * has shear, which a qform cannot express). qfac is -1 when the affine is left-handed.
 */
export function affineToQuatern(aff: Affine): Quatern {
  const norms = columnNorms(aff);
  const m = linearPart(aff).map((row) => row.map((v, c) => (norms[c] > 0 ? v / norms[c] : 0)));
  let r = closestOrthogonal(m);
  let qfac = 1;
  if (det3(r) < 0) {
    qfac = -1;
    r = r.map((row) => [row[0], row[1], -row[2]]);
  }
  const [r11, r12, r13] = r[0];
  const [r21, r22, r23] = r[1];
  const [r31, r32, r33] = r[2];
  let a = r11 + r22 + r33 + 1;
  let b: number;
  let c: number;
  let d: number;
  // Branch on the largest diagonal term so the division below is well conditioned.
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = (0.25 * (r32 - r23)) / a;
    c = (0.25 * (r13 - r31)) / a;
    d = (0.25 * (r21 - r12)) / a;
  } else {
    const xd = 1 + r11 - (r22 + r33);
    const yd = 1 + r22 - (r11 + r33);
    const zd = 1 + r33 - (r11 + r22);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (r12 + r21)) / b;
      d = (0.25 * (r13 + r31)) / b;
      a = (0.25 * (r32 - r23)) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (r12 + r21)) / c;
      d = (0.25 * (r23 + r32)) / c;
      a = (0.25 * (r13 - r31)) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (r13 + r31)) / d;
      c = (0.25 * (r23 + r32)) / d;
      a = (0.25 * (r21 - r12)) / d;
    }
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { b, c, d, qoffsetX: aff[0][3], qoffsetY: aff[1][3], qoffsetZ: aff[2][3], qfac };
}
