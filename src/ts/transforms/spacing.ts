/** Spacing(d): resampling to a voxel size in world space, over src/ts/io's `resampleToSpacing`. */
import { invalidArg, describeValue } from '../errors';
import type { Vec3, Volume } from '../volume';
import { resampleToSpacing } from '../geometry/resample';
import type { KeysOptions, Sample } from './types';
import { MapTransform, isLabelKey, toVec3 } from './types';

/** 'linear' (trilinear, float32 out) for images; 'nearest' (same type out) for labels. */
export type SpacingMode = 'linear' | 'nearest';

/** Options of {@link spacing}. */
export interface SpacingOptions {
  /** Target voxel size in mm, one number or [si, sj, sk]. */
  pixdim: number | number[];
  /** Default 'linear'. */
  mode?: SpacingMode;
  /** Points outside the source: 'border' (edge value, MONAI's default) or 'zeros'. Default 'border'. */
  padding?: 'border' | 'zeros';
}

function checkPixdim(p: unknown): Vec3 {
  const v = toVec3(p as number | number[], 'pixdim');
  if (!v.every((x) => x > 0)) throw invalidArg('pixdim', `expected positive voxel sizes, got ${describeValue(p)}`);
  return v;
}

function checkMode(m: unknown): SpacingMode {
  if (m !== 'linear' && m !== 'nearest') throw invalidArg('mode', `expected 'linear' or 'nearest', got ${describeValue(m)}`);
  return m;
}

/**
 * Resamples `vol` to voxels of `pixdim` mm (first voxel centre fixed, axes scaled; io's convention,
 * as MONAI's Spacing). Returns the volume itself when it already has that spacing.
 */
export function spacing(vol: Volume, opts: SpacingOptions): Volume {
  const px = checkPixdim(opts.pixdim);
  const mode = checkMode(opts.mode ?? 'linear');
  if (px.every((p, d) => Math.abs(p - vol.spacing[d]) <= 1e-6 * p)) return vol;
  return resampleToSpacing(vol, px, mode, { padding: opts.padding ?? 'border' });
}

/** Options of {@link Spacingd}. */
export interface SpacingdOptions extends KeysOptions {
  /** Target voxel size in mm. */
  pixdim: number | number[];
  /** One mode for all keys or one per key. Default: 'nearest' for label-like keys, 'linear' for the rest. */
  mode?: SpacingMode | SpacingMode[];
  /** As in {@link SpacingOptions}. */
  padding?: 'border' | 'zeros';
}

/** Dictionary form of {@link spacing}. */
export class Spacingd extends MapTransform<SpacingdOptions> {
  readonly name = 'Spacingd';

  constructor(options: SpacingdOptions) {
    super(options);
    checkPixdim(options.pixdim);
    const m = options.mode;
    if (Array.isArray(m)) {
      if (m.length !== this.keys.length) throw invalidArg('mode', `expected one mode per key (${this.keys.length}), got ${m.length}`);
      m.forEach(checkMode);
    } else if (m !== undefined) checkMode(m);
    if (options.padding !== undefined && options.padding !== 'border' && options.padding !== 'zeros') {
      throw invalidArg('padding', `expected 'border' or 'zeros', got ${describeValue(options.padding)}`);
    }
  }

  /** The interpolation used for `key`. */
  modeFor(key: string): SpacingMode {
    const m = this.options.mode;
    if (Array.isArray(m)) return m[this.keys.indexOf(key)];
    return m ?? (isLabelKey(key) ? 'nearest' : 'linear');
  }

  apply(sample: Sample): Sample {
    return this.mapKeys(sample, (v, key) => spacing(v, { pixdim: this.options.pixdim, mode: this.modeFor(key), padding: this.options.padding }));
  }
}
