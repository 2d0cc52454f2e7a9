/** RandGaussianNoise(d): additive Gaussian noise with a probability. */
import { invalidArg, describeValue } from '../errors';
import type { Volume } from '../volume';
import type { Rng } from '../util/rng';
import type { KeysOptions, Sample } from './types';
import { MapTransform, checkProb, requireRng } from './types';
import { copyAffine, makeVolume } from './ops';

/**
 * Adds N(mean, std^2) noise drawn from a fast generator seeded by `seed` (32-bit). The same seed
 * gives the same noise, so several keys of one sample can share a draw. Output float32.
 */
export function addGaussianNoise(vol: Volume, mean: number, std: number, seed: number): Volume<Float32Array> {
  const src = vol.data;
  const n = src.length;
  const out = new Float32Array(n);
  // xoshiro128** in locals, seeded by splitmix32: one Rng method call per voxel would dominate the cost.
  let z = seed >>> 0;
  const mix = (): number => {
    z = (z + 0x9e3779b9) >>> 0;
    let t = z;
    t = Math.imul(t ^ (t >>> 16), 0x85ebca6b) >>> 0;
    t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35) >>> 0;
    return (t ^ (t >>> 16)) >>> 0;
  };
  let s0 = mix(), s1 = mix(), s2 = mix(), s3 = mix() | 1;
  const TWO_PI = 2 * Math.PI;
  const INV = 1 / 4294967296;
  for (let i = 0; i < n; i += 2) {
    let u = 0;
    let w = 0;
    for (let r = 0; r < 2; r++) {
      const x = Math.imul(((Math.imul(s1, 5) << 7) | (Math.imul(s1, 5) >>> 25)), 9) >>> 0;
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      if (r === 0) u = (x + 1) * INV;
      else w = x * INV;
    }
    // Box-Muller, both outputs used; u is in (0, 1] so the log is finite.
    const rad = std * Math.sqrt(-2 * Math.log(u));
    const ang = TWO_PI * w;
    out[i] = src[i] + mean + rad * Math.cos(ang);
    if (i + 1 < n) out[i + 1] = src[i + 1] + mean + rad * Math.sin(ang);
  }
  return makeVolume(vol, out, vol.shape, vol.spacing, copyAffine(vol.affine));
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
