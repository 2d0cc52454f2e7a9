/** ScaleIntensityRange(d): a linear intensity window, MONAI semantics (SPEC section 5). */
import { invalidArg, describeValue } from '../errors';
import type { Volume } from '../volume';
import type { KeysOptions, Sample } from './types';
import { MapTransform } from './types';
import { makeVolume } from './ops';
import { cloneAffine } from '../geometry/affine';

/** Options of {@link scaleIntensityRange}. */
export interface ScaleIntensityRangeOptions {
  /** Input value that maps to `bMin`. */
  aMin: number;
  /** Input value that maps to `bMax`. */
  aMax: number;
  /** Output at `aMin`. */
  bMin: number;
  /** Output at `aMax`. */
  bMax: number;
  /** Clamp the result to [bMin, bMax]. Default false, as in MONAI. */
  clip?: boolean;
}

function checkOptions(o: ScaleIntensityRangeOptions): void {
  for (const k of ['aMin', 'aMax', 'bMin', 'bMax'] as const) {
    if (typeof o[k] !== 'number' || !Number.isFinite(o[k])) throw invalidArg(k, `expected a finite number, got ${describeValue(o[k])}`);
  }
}

let warnedZeroWidth = false;

/**
 * MONAI's ScaleIntensityRange: y = (x - aMin) / (aMax - aMin) * (bMax - bMin) + bMin, then with
 * `clip` clamp(y, bMin, bMax) as torch.clamp does it, min first then max, so an inverted output
 * range (bMin > bMax) gives bMax everywhere. A zero-width window (aMin == aMax) cannot scale:
 * MONAI warns and returns x - aMin + bMin unclipped, and so does this (with one process warning).
 * Output is float32 whatever the input type.
 */
export function scaleIntensityRange(vol: Volume, opts: ScaleIntensityRangeOptions): Volume<Float32Array> {
  checkOptions(opts);
  const { aMin, bMin, bMax } = opts;
  const src = vol.data;
  const n = src.length;
  const out = new Float32Array(n);
  if (opts.aMax === aMin) {
    if (!warnedZeroWidth)
      process.emitWarning(
        `ScaleIntensityRange: aMin == aMax (${aMin}), so the window cannot scale; returning x - aMin + bMin as MONAI does`,
        'LiversegWarning',
      );
    warnedZeroWidth = true;
    for (let i = 0; i < n; i++) out[i] = src[i] - aMin + bMin;
    return makeVolume(vol, out, vol.shape, vol.spacing, cloneAffine(vol.affine));
  }
  const scale = (bMax - bMin) / (opts.aMax - aMin);
  if (opts.clip) {
    for (let i = 0; i < n; i++) {
      const y = (src[i] - aMin) * scale + bMin;
      // torch.clamp(y, min=bMin, max=bMax): the max bound wins when the bounds cross.
      const lo = y < bMin ? bMin : y;
      out[i] = lo > bMax ? bMax : lo;
    }
  } else {
    for (let i = 0; i < n; i++) out[i] = (src[i] - aMin) * scale + bMin;
  }
  return makeVolume(vol, out, vol.shape, vol.spacing, cloneAffine(vol.affine));
}

/** Options of {@link ScaleIntensityRanged}. */
export type ScaleIntensityRangedOptions = KeysOptions & ScaleIntensityRangeOptions;

/** Dictionary form of {@link scaleIntensityRange}; typically `keys: ['image']`, window [-300, 300] -> [0, 1] with clip. */
export class ScaleIntensityRanged extends MapTransform<ScaleIntensityRangedOptions> {
  readonly name = 'ScaleIntensityRanged';

  constructor(options: ScaleIntensityRangedOptions) {
    super(options);
    checkOptions(options);
  }

  apply(sample: Sample): Sample {
    return this.mapKeys(sample, (v) => scaleIntensityRange(v, this.options));
  }
}
