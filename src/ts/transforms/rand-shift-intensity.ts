/** RandShiftIntensity(d): add an offset drawn uniformly from [-offsets, offsets]. */
import { invalidArg, describeValue } from '../errors';
import type { Volume } from '../volume';
import type { Rng } from '../util/rng';
import type { KeysOptions, Sample } from './types';
import { MapTransform, checkProb, requireRng } from './types';
import { makeVolume } from './ops';
import { cloneAffine } from '../geometry/affine';

/** v + offset for every voxel; float32 out. */
export function shiftIntensity(vol: Volume, offset: number): Volume<Float32Array> {
  const src = vol.data;
  const n = src.length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = src[i] + offset;
  return makeVolume(vol, out, vol.shape, vol.spacing, cloneAffine(vol.affine));
}

/** Options of {@link randShiftIntensity}. */
export interface RandShiftIntensityOptions {
  /** The offset is drawn from [-offsets, offsets]. */
  offsets: number;
  /** Default 0.1. */
  prob?: number;
}

function checkOptions(o: RandShiftIntensityOptions): void {
  checkProb(o.prob ?? 0.1);
  if (typeof o.offsets !== 'number' || !(o.offsets >= 0) || !Number.isFinite(o.offsets)) {
    throw invalidArg('offsets', `expected a non-negative number, got ${describeValue(o.offsets)}`);
  }
}

/** The offset, or null when not applied. Always consumes 2 numbers. */
export function randShiftIntensityOffset(rng: Rng, opts: RandShiftIntensityOptions): number | null {
  const doIt = rng.next() < (opts.prob ?? 0.1);
  const off = rng.uniform(-opts.offsets, opts.offsets);
  return doIt ? off : null;
}

/** Array form; returns the input itself when not applied. */
export function randShiftIntensity(vol: Volume, opts: RandShiftIntensityOptions, rng: Rng): Volume {
  checkOptions(opts);
  const off = randShiftIntensityOffset(rng, opts);
  return off === null ? vol : shiftIntensity(vol, off);
}

/** Options of {@link RandShiftIntensityd}. */
export type RandShiftIntensitydOptions = KeysOptions & RandShiftIntensityOptions;

/** Dictionary form: one offset per sample for all keys. */
export class RandShiftIntensityd extends MapTransform<RandShiftIntensitydOptions> {
  readonly name = 'RandShiftIntensityd';
  override readonly random = true;

  constructor(options: RandShiftIntensitydOptions) {
    super(options);
    checkOptions(options);
  }

  apply(sample: Sample, rng?: Rng): Sample {
    const off = randShiftIntensityOffset(requireRng(rng, this.name), this.options);
    if (off === null) return { ...sample };
    return this.mapKeys(sample, (v) => shiftIntensity(v, off));
  }
}
