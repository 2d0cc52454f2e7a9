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
  // MONAI only warns here and returns x - aMin; a zero-width window is always a configuration slip.
  if (o.aMax === o.aMin) throw invalidArg('aMax', `must differ from aMin (both ${o.aMin})`);
}

/**
 * y = (x - aMin) / (aMax - aMin) * (bMax - bMin) + bMin, clamped to [min(bMin,bMax), max(bMin,bMax)]
 * when `clip`. Output is float32 whatever the input type.
 */
export function scaleIntensityRange(vol: Volume, opts: ScaleIntensityRangeOptions): Volume<Float32Array> {
  checkOptions(opts);
  const { aMin, bMin } = opts;
  const scale = (opts.bMax - opts.bMin) / (opts.aMax - opts.aMin);
  const src = vol.data;
  const n = src.length;
  const out = new Float32Array(n);
  if (opts.clip) {
    const lo = Math.min(opts.bMin, opts.bMax);
    const hi = Math.max(opts.bMin, opts.bMax);
    for (let i = 0; i < n; i++) {
      const y = (src[i] - aMin) * scale + bMin;
      out[i] = y < lo ? lo : y > hi ? hi : y;
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
