/** CastToFloat32(d): the element type the network reads. */
import type { Volume } from '../volume';
import type { KeysOptions, Sample } from './types';
import { MapTransform } from './types';
import { makeVolume } from './ops';
import { cloneAffine } from '../geometry/affine';

/** A float32 copy of `vol` (the input itself when it already is float32: transforms never write into their input). */
export function castToFloat32(vol: Volume): Volume<Float32Array> {
  if (vol.data instanceof Float32Array) return vol as Volume<Float32Array>;
  return makeVolume(vol, Float32Array.from(vol.data as ArrayLike<number>), vol.shape, vol.spacing, cloneAffine(vol.affine));
}

/** Options of {@link CastToFloat32d}. */
export type CastToFloat32dOptions = KeysOptions;

/** Dictionary form of {@link castToFloat32}. */
export class CastToFloat32d extends MapTransform<CastToFloat32dOptions> {
  readonly name = 'CastToFloat32d';

  apply(sample: Sample): Sample {
    return this.mapKeys(sample, (v) => castToFloat32(v));
  }
}
