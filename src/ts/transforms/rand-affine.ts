/**
 * RandAffine(d): random rotation, scaling and translation about the volume centre, resampled onto
 * the same grid (trilinear for images, nearest for labels, zero outside).
 */
import { invalidArg, describeValue } from '../errors';
import type { Vec3, Volume, VoxelArray } from '../volume';
import type { Rng } from '../util/rng';
import type { KeysOptions, Sample } from './types';
import { MapTransform, checkProb, isLabelKey, requireRng, toVec3 } from './types';
import { allocLike, makeVolume } from './ops';
import { columnNorms, matmul4 } from '../geometry/affine';

// Module-level aliases: a global `Math` lookup per call is costly in hot loops (very much so
// inside jest's vm sandbox), a module constant is not.
const { floor, ceil, min, max, cos, sin } = Math;

/** 'bilinear' is trilinear in 3D (MONAI's name), float32 out; 'nearest' keeps the element type. */
export type InterpolationMode = 'bilinear' | 'nearest';

/** One draw of {@link randAffineParams}. */
export interface AffineParams {
  /** Angles in radians about axes i, j, k (applied in that order). */
  rotate: Vec3;
  /** Scale factors per axis; > 1 samples a wider region, so the content shrinks (MONAI convention). */
  scale: Vec3;
  /** Shift in voxels per axis. */
  translate: Vec3;
}

/** Identity parameters. */
export function identityAffineParams(): AffineParams {
  return { rotate: [0, 0, 0], scale: [1, 1, 1], translate: [0, 0, 0] };
}

function rotation(axis: number, t: number): number[][] {
  const c = cos(t);
  const s = sin(t);
  const m = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
  if (t === 0) return m;
  const [p, q] = axis === 0 ? [1, 2] : axis === 1 ? [2, 0] : [0, 1];
  m[p][p] = c;
  m[p][q] = -s;
  m[q][p] = s;
  m[q][q] = c;
  return m;
}

function mul3(a: number[][], b: number[][]): number[][] {
  return a.map((row) => [0, 1, 2].map((c) => row[0] * b[0][c] + row[1] * b[1][c] + row[2] * b[2][c]));
}

/**
 * The voxel map output -> input (a 4x4 matrix): x = c + D^-1 R S D (o - c) + t, with c the volume
 * centre and D = diag(spacing). Rotating in millimetres keeps anatomy rigid on anisotropic grids.
 */
export function affineVoxelMap(params: AffineParams, shape: readonly number[], spacing: readonly number[]): number[][] {
  let r = mul3(mul3(rotation(0, params.rotate[0]), rotation(1, params.rotate[1])), rotation(2, params.rotate[2]));
  r = r.map((row, i) => row.map((v, j) => (v * params.scale[j] * spacing[j]) / spacing[i]));
  const c = [0, 1, 2].map((d) => (shape[d] - 1) / 2);
  const out: number[][] = [];
  for (let i = 0; i < 3; i++) {
    const off = c[i] - (r[i][0] * c[0] + r[i][1] * c[1] + r[i][2] * c[2]) + params.translate[i];
    out.push([r[i][0], r[i][1], r[i][2], off]);
  }
  out.push([0, 0, 0, 1]);
  return out;
}

// Scratch for linRange's second result (no allocation per row).
const rangeOut = new Float64Array(2);

/**
 * The indices i in [0, n) for which lo <= b + a * i < hi, as [rangeOut[0], rangeOut[1]] (empty when
 * the first exceeds the second). The ends are checked with the same expression the caller
 * evaluates, so rounding can never let a voxel through that fails the bound.
 */
function linRange(b: number, a: number, lo: number, hi: number, n: number): void {
  let i0 = 0;
  let i1 = n - 1;
  if (a > 0) {
    i0 = max(i0, ceil((lo - b) / a) - 1);
    i1 = min(i1, floor((hi - b) / a) + 1);
  } else if (a < 0) {
    i0 = max(i0, ceil((hi - b) / a) - 1);
    i1 = min(i1, floor((lo - b) / a) + 1);
  }
  const ok = (i: number): boolean => {
    const f = b + a * i;
    return f >= lo && f < hi;
  };
  while (i0 <= i1 && !ok(i0)) i0++;
  while (i1 >= i0 && !ok(i1)) i1--;
  rangeOut[0] = i0;
  rangeOut[1] = i1;
}

/**
 * Resamples `vol` on its own grid through the voxel map `m` (output voxel o reads input at m·o),
 * with `paddingValue` outside. The affine becomes affine·m, so world positions stay consistent.
 * Each row is split where its sample points enter and leave the volume: the middle part runs
 * without bounds checks (and truncates instead of flooring, its coordinates being >= 0).
 */
export function affineResample(vol: Volume, m: number[][], mode: InterpolationMode = 'bilinear', paddingValue = 0): Volume {
  const [ni, nj, nk] = vol.shape;
  const src = vol.data;
  const plane = ni * nj;
  const n = plane * nk;
  const out: VoxelArray = mode === 'bilinear' ? new Float32Array(n) : allocLike(src, n);
  if (paddingValue !== 0) out.fill(paddingValue);
  const [a00, a01, a02, a03] = m[0];
  const [a10, a11, a12, a13] = m[1];
  const [a20, a21, a22, a23] = m[2];
  const nearest = mode === 'nearest';
  let o = 0;
  for (let k = 0; k < nk; k++) {
    for (let j = 0; j < nj; j++, o += ni) {
      const bx = a01 * j + a02 * k + a03;
      const by = a11 * j + a12 * k + a13;
      const bz = a21 * j + a22 * k + a23;
      // Fast interval: nearest needs round(f) in [0, n); trilinear needs floor(f) and floor(f) + 1 in [0, n).
      let f0 = 0;
      let f1 = ni - 1;
      const lo = nearest ? -0.5 : 0;
      const off = nearest ? 0.5 : 1;
      linRange(bx, a00, lo, ni - off, ni);
      f0 = max(f0, rangeOut[0]);
      f1 = min(f1, rangeOut[1]);
      linRange(by, a10, lo, nj - off, ni);
      f0 = max(f0, rangeOut[0]);
      f1 = min(f1, rangeOut[1]);
      linRange(bz, a20, lo, nk - off, ni);
      f0 = max(f0, rangeOut[0]);
      f1 = min(f1, rangeOut[1]);
      if (f1 < f0) {
        f0 = ni;
        f1 = ni - 1;
      }
      if (nearest) {
        for (let i = f0; i <= f1; i++) {
          const x = (bx + a00 * i + 0.5) | 0;
          const y = (by + a10 * i + 0.5) | 0;
          const z = (bz + a20 * i + 0.5) | 0;
          out[o + i] = src[z * plane + y * ni + x];
        }
        for (let i = 0; i < ni; i++) {
          if (i === f0) i = f1 + 1;
          if (i >= ni) break;
          const x = floor(bx + a00 * i + 0.5);
          const y = floor(by + a10 * i + 0.5);
          const z = floor(bz + a20 * i + 0.5);
          if (x >= 0 && x < ni && y >= 0 && y < nj && z >= 0 && z < nk) out[o + i] = src[z * plane + y * ni + x];
        }
        continue;
      }
      for (let i = f0; i <= f1; i++) {
        const x = bx + a00 * i;
        const y = by + a10 * i;
        const z = bz + a20 * i;
        const x0 = x | 0;
        const y0 = y | 0;
        const z0 = z | 0;
        const fx = x - x0;
        const fy = y - y0;
        const fz = z - z0;
        const s = z0 * plane + y0 * ni + x0;
        const c00 = src[s] + fx * (src[s + 1] - src[s]);
        const c10 = src[s + ni] + fx * (src[s + ni + 1] - src[s + ni]);
        const c01 = src[s + plane] + fx * (src[s + plane + 1] - src[s + plane]);
        const c11 = src[s + plane + ni] + fx * (src[s + plane + ni + 1] - src[s + plane + ni]);
        const c0 = c00 + fy * (c10 - c00);
        const c1 = c01 + fy * (c11 - c01);
        out[o + i] = c0 + fz * (c1 - c0);
      }
      for (let i = 0; i < ni; i++) {
        if (i === f0) i = f1 + 1;
        if (i >= ni) break;
        const x = bx + a00 * i;
        const y = by + a10 * i;
        const z = bz + a20 * i;
        const x0 = floor(x);
        const y0 = floor(y);
        const z0 = floor(z);
        if (x0 < -1 || x0 >= ni || y0 < -1 || y0 >= nj || z0 < -1 || z0 >= nk) continue;
        const fx = x - x0;
        const fy = y - y0;
        const fz = z - z0;
        // Border: weight each in-range corner; out-of-range corners read the padding value.
        let v = 0;
        for (let dz = 0; dz < 2; dz++) {
          const zz = z0 + dz;
          const wz = dz ? fz : 1 - fz;
          for (let dy = 0; dy < 2; dy++) {
            const yy = y0 + dy;
            const wy = dy ? fy : 1 - fy;
            for (let dx = 0; dx < 2; dx++) {
              const xx = x0 + dx;
              const w = wz * wy * (dx ? fx : 1 - fx);
              if (w === 0) continue;
              const inside = xx >= 0 && xx < ni && yy >= 0 && yy < nj && zz >= 0 && zz < nk;
              v += w * (inside ? src[zz * plane + yy * ni + xx] : paddingValue);
            }
          }
        }
        out[o + i] = v;
      }
    }
  }
  const affine = matmul4(vol.affine, m);
  return makeVolume(vol, out, vol.shape, columnNorms(affine), affine);
}

/** Options of {@link randAffine}. */
export interface RandAffineOptions {
  /** Probability of transforming. Default 0.1. */
  prob?: number;
  /** Max |angle| in radians about each axis (one number for all). Default 0. */
  rotateRange?: number | number[];
  /** Max |scale - 1| per axis. Default 0. */
  scaleRange?: number | number[];
  /** Max |shift| in voxels per axis. Default 0. */
  translateRange?: number | number[];
  /** Value outside the input. Default 0. */
  paddingValue?: number;
}

function ranges(opts: RandAffineOptions): { rot: Vec3; sc: Vec3; tr: Vec3 } {
  const rot = toVec3((opts.rotateRange ?? 0) as number | number[], 'rotateRange');
  const sc = toVec3((opts.scaleRange ?? 0) as number | number[], 'scaleRange');
  const tr = toVec3((opts.translateRange ?? 0) as number | number[], 'translateRange');
  for (const [name, v] of [
    ['rotateRange', rot],
    ['scaleRange', sc],
    ['translateRange', tr],
  ] as const) {
    if (!v.every((x) => x >= 0)) throw invalidArg(name, `expected non-negative ranges, got ${describeValue(v)}`);
  }
  if (!sc.every((x) => x < 1)) throw invalidArg('scaleRange', `must be below 1 (a scale of 0 or less is not a scale), got ${describeValue(sc)}`);
  return { rot, sc, tr };
}

/**
 * Draws whether to transform and the parameters: always 10 uniform numbers (decision, then 3
 * angles, 3 scales, 3 shifts) so later draws do not depend on the outcome. Null means no transform.
 */
export function randAffineParams(rng: Rng, opts: RandAffineOptions): AffineParams | null {
  const { rot, sc, tr } = ranges(opts);
  const doIt = rng.next() < checkProb(opts.prob ?? 0.1);
  const p = identityAffineParams();
  for (let d = 0; d < 3; d++) p.rotate[d] = rng.uniform(-rot[d], rot[d]);
  for (let d = 0; d < 3; d++) p.scale[d] = 1 + rng.uniform(-sc[d], sc[d]);
  for (let d = 0; d < 3; d++) p.translate[d] = rng.uniform(-tr[d], tr[d]);
  return doIt ? p : null;
}

/** Applies given parameters to one volume. */
export function applyAffineParams(vol: Volume, params: AffineParams, mode: InterpolationMode = 'bilinear', paddingValue = 0): Volume {
  return affineResample(vol, affineVoxelMap(params, vol.shape, vol.spacing), mode, paddingValue);
}

/** Array form; returns the input itself when it does not transform. */
export function randAffine(vol: Volume, opts: RandAffineOptions & { mode?: InterpolationMode }, rng: Rng): Volume {
  const p = randAffineParams(rng, opts);
  return p ? applyAffineParams(vol, p, opts.mode ?? 'bilinear', opts.paddingValue ?? 0) : vol;
}

/** Options of {@link RandAffined}. */
export interface RandAffinedOptions extends KeysOptions, RandAffineOptions {
  /** One mode for all keys or one per key. Default: 'nearest' for label-like keys, 'bilinear' for the rest. */
  mode?: InterpolationMode | InterpolationMode[];
}

/** Dictionary form: one parameter draw per sample, shared by all keys (which must share a shape). */
export class RandAffined extends MapTransform<RandAffinedOptions> {
  readonly name = 'RandAffined';
  override readonly random = true;

  constructor(options: RandAffinedOptions) {
    super(options);
    checkProb(options.prob ?? 0.1);
    ranges(options);
    const m = options.mode;
    const modes = Array.isArray(m) ? m : m === undefined ? [] : [m];
    if (Array.isArray(m) && m.length !== this.keys.length) throw invalidArg('mode', `expected one mode per key (${this.keys.length}), got ${m.length}`);
    for (const x of modes) if (x !== 'bilinear' && x !== 'nearest') throw invalidArg('mode', `expected 'bilinear' or 'nearest', got ${describeValue(x)}`);
  }

  /** The interpolation used for `key`. */
  modeFor(key: string): InterpolationMode {
    const m = this.options.mode;
    if (Array.isArray(m)) return m[this.keys.indexOf(key)];
    return m ?? (isLabelKey(key) ? 'nearest' : 'bilinear');
  }

  apply(sample: Sample, rng?: Rng): Sample {
    const p = randAffineParams(requireRng(rng, this.name), this.options);
    if (!p) return { ...sample };
    return this.mapKeys(sample, (v, key) => applyAffineParams(v, p, this.modeFor(key), this.options.paddingValue ?? 0));
  }
}
