/** RandScaleIntensity(d): multiply intensities by (1 + f), f uniform in [-factors, factors]. */
import { invalidArg, describeValue } from '../errors';
import type { Volume } from '../volume';
import type { Rng } from '../util/rng';
import type { KeysOptions, Sample } from './types';
import { MapTransform, checkProb, requireRng } from './types';
import { makeVolume } from './ops';
import { cloneAffine } from '../geometry/affine';

/** v * factor for every voxel; float32 out. */
export function scaleIntensity(vol: Volume, factor: number): Volume<Float32Array> {
  const src = vol.data;
  const n = src.length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = src[i] * factor;
  return makeVolume(vol, out, vol.shape, vol.spacing, cloneAffine(vol.affine));
}

/** Options of {@link randScaleIntensity}. */
export interface RandScaleIntensityOptions {
  /** f is drawn from [-factors, factors]. */
  factors: number;
  /** Default 0.1. */
  prob?: number;
}

function checkOptions(o: RandScaleIntensityOptions): void {
  checkProb(o.prob ?? 0.1);
  if (typeof o.factors !== 'number' || !(o.factors >= 0) || !Number.isFinite(o.factors)) {
    throw invalidArg('factors', `expected a non-negative number, got ${describeValue(o.factors)}`);
  }
}

/** The multiplier (1 + f), or null when not applied. Always consumes 2 numbers. */
export function randScaleIntensityFactor(rng: Rng, opts: RandScaleIntensityOptions): number | null {
  const doIt = rng.next() < (opts.prob ?? 0.1);
  const f = rng.uniform(-opts.factors, opts.factors);
  return doIt ? 1 + f : null;
}

/** Array form; returns the input itself when not applied. */
export function randScaleIntensity(vol: Volume, opts: RandScaleIntensityOptions, rng: Rng): Volume {
  checkOptions(opts);
  const f = randScaleIntensityFactor(rng, opts);
  return f === null ? vol : scaleIntensity(vol, f);
}

/** Options of {@link RandScaleIntensityd}. */
export type RandScaleIntensitydOptions = KeysOptions & RandScaleIntensityOptions;

/** Dictionary form: one factor per sample for all keys. */
export class RandScaleIntensityd extends MapTransform<RandScaleIntensitydOptions> {
  readonly name = 'RandScaleIntensityd';
  override readonly random = true;

  constructor(options: RandScaleIntensitydOptions) {
    super(options);
    checkOptions(options);
  }

  apply(sample: Sample, rng?: Rng): Sample {
    const f = randScaleIntensityFactor(requireRng(rng, this.name), this.options);
    if (f === null) return { ...sample };
    return this.mapKeys(sample, (v) => scaleIntensity(v, f));
  }
}
