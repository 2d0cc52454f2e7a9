/** RandGaussianNoise(d): additive Gaussian noise with a probability. */
import { invalidArg, describeValue } from '../errors';
import type { Volume } from '../volume';
import type { Rng } from '../util/rng';
import type { KeysOptions, Sample } from './types';
import { MapTransform, checkProb, requireRng } from './types';
import { makeVolume } from './ops';
import { cloneAffine } from '../geometry/affine';

// Module-level aliases: a global `Math` lookup per call is costly in hot loops (very much so
// inside jest's vm sandbox), a module constant is not.
const { imul, sqrt, log } = Math;

/** Inverse of the standard normal CDF (Acklam's rational approximation, relative error < 1.2e-9). */
function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.928510446969, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = sqrt(-2 * log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

const TABLE_BITS = 16;
let quantiles: Float32Array | undefined;

/**
 * The standard normal quantiles at (t + 0.5) / 2^16: indexing it with uniform 16-bit numbers gives
 * N(0, 1) draws (to within 1/65536 in probability, tails cut at 4.4 sigma) for one table read per
 * voxel instead of a logarithm, a square root and a cosine.
 */
function normalTable(): Float32Array {
  if (!quantiles) {
    const n = 1 << TABLE_BITS;
    quantiles = new Float32Array(n);
    for (let t = 0; t < n; t++) quantiles[t] = normalQuantile((t + 0.5) / n);
  }
  return quantiles;
}

/**
 * Adds N(mean, std^2) noise drawn from a fast generator seeded by `seed` (32-bit). The same seed
 * gives the same noise, so several keys of one sample can share a draw. Output float32.
 */
export function addGaussianNoise(vol: Volume, mean: number, std: number, seed: number): Volume<Float32Array> {
  const src = vol.data;
  const n = src.length;
  const out = new Float32Array(n);
  const table = normalTable();
  // xoshiro128** in locals, seeded by splitmix32: one Rng method call per voxel would dominate the cost.
  let z = seed >>> 0;
  const mix = (): number => {
    z = (z + 0x9e3779b9) >>> 0;
    let t = z;
    t = imul(t ^ (t >>> 16), 0x85ebca6b) >>> 0;
    t = imul(t ^ (t >>> 13), 0xc2b2ae35) >>> 0;
    return (t ^ (t >>> 16)) >>> 0;
  };
  let s0 = mix(),
    s1 = mix(),
    s2 = mix(),
    s3 = mix() | 1;
  for (let i = 0; i < n; i += 2) {
    const x = imul((imul(s1, 5) << 7) | (imul(s1, 5) >>> 25), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    // Two voxels per 32-bit draw: the high and the low 16 bits.
    out[i] = src[i] + mean + std * table[x >>> 16];
    if (i + 1 < n) out[i + 1] = src[i + 1] + mean + std * table[x & 0xffff];
  }
  return makeVolume(vol, out, vol.shape, vol.spacing, cloneAffine(vol.affine));
}

/** Options of {@link randGaussianNoise}. */
export interface RandGaussianNoiseOptions {
  /** Probability of adding noise. Default 0.1. */
  prob?: number;
  /** Noise mean. Default 0. */
  mean?: number;
  /** Noise standard deviation (its upper bound when `sampleStd`). Default 0.1. */
  std?: number;
  /** Draw the standard deviation uniformly from [0, std] per call (MONAI's default). Default true. */
  sampleStd?: boolean;
}

/** One draw of the noise parameters; null when no noise is added. Always consumes 3 numbers. */
export function randGaussianNoiseParams(rng: Rng, opts: RandGaussianNoiseOptions): { std: number; seed: number } | null {
  const doIt = rng.next() < checkProb(opts.prob ?? 0.1);
  const maxStd = opts.std ?? 0.1;
  const s = rng.next();
  const seed = rng.nextU32();
  if (!doIt) return null;
  return { std: opts.sampleStd === false ? maxStd : s * maxStd, seed };
}

function checkOptions(o: RandGaussianNoiseOptions): void {
  checkProb(o.prob ?? 0.1);
  const std = o.std ?? 0.1;
  if (typeof std !== 'number' || !(std >= 0) || !Number.isFinite(std)) throw invalidArg('std', `expected a non-negative number, got ${describeValue(std)}`);
  const mean = o.mean ?? 0;
  if (typeof mean !== 'number' || !Number.isFinite(mean)) throw invalidArg('mean', `expected a finite number, got ${describeValue(mean)}`);
}

/** Array form; returns the input itself when it adds no noise. */
export function randGaussianNoise(vol: Volume, opts: RandGaussianNoiseOptions, rng: Rng): Volume {
  checkOptions(opts);
  const p = randGaussianNoiseParams(rng, opts);
  return p ? addGaussianNoise(vol, opts.mean ?? 0, p.std, p.seed) : vol;
}

/** Options of {@link RandGaussianNoised}. */
export type RandGaussianNoisedOptions = KeysOptions & RandGaussianNoiseOptions;

/** Dictionary form: one draw per sample; keys of equal shape get the same noise field, as in MONAI. */
export class RandGaussianNoised extends MapTransform<RandGaussianNoisedOptions> {
  readonly name = 'RandGaussianNoised';
  override readonly random = true;

  constructor(options: RandGaussianNoisedOptions) {
    super(options);
    checkOptions(options);
  }

  apply(sample: Sample, rng?: Rng): Sample {
    const p = randGaussianNoiseParams(requireRng(rng, this.name), this.options);
    if (!p) return { ...sample };
    return this.mapKeys(sample, (v) => addGaussianNoise(v, this.options.mean ?? 0, p.std, p.seed));
  }
}
