/** SpatialPad(d): constant padding up to a minimum size, MONAI semantics (SPEC section 5). */
import { invalidArg, describeValue } from '../errors';
import type { Vec3, Volume, VoxelArray } from '../volume';
import type { KeysOptions, Sample } from './types';
import { MapTransform } from './types';
import { cropVolume } from './ops';

/** Options of {@link spatialPad}. */
export interface SpatialPadOptions {
  /** Minimum output size [ni, nj, nk]; a value <= 0 leaves that axis alone. */
  size: number[];
  /** Where the padding goes: 'symmetric' (floor(w/2) before, the rest after; default) or 'end'. */
  method?: 'symmetric' | 'end';
  /** Padding value. Default 0 (run this after intensity scaling so 0 is the air side of the window). */
  value?: number;
}

function checkSize(size: unknown): number[] {
  if (!Array.isArray(size) || size.length !== 3 || !size.every((s) => Number.isInteger(s))) {
    throw invalidArg('size', `expected 3 integers [ni, nj, nk], got ${describeValue(size)}`);
  }
  return size as number[];
}

/** The per-axis padding `spatialPad` adds before the data: floor(w/2) ('symmetric') or 0 ('end'). */
export function spatialPadBefore(shape: readonly number[], opts: SpatialPadOptions): Vec3 {
  const size = checkSize(opts.size);
  const out: Vec3 = [0, 0, 0];
  for (let d = 0; d < 3; d++) {
    const w = Math.max(0, size[d] - shape[d]);
    out[d] = opts.method === 'end' ? 0 : Math.floor(w / 2);
  }
  return out;
}

/**
 * Pads each axis shorter than `size` with `value`; never crops. The affine's origin moves back by
 * the padding before, so world coordinates of the original voxels are unchanged. Returns the input
 * volume itself when nothing needs padding.
 */
export function spatialPad<T extends VoxelArray>(vol: Volume<T>, opts: SpatialPadOptions): Volume<T> {
  const size = checkSize(opts.size);
  const before = spatialPadBefore(vol.shape, opts);
  const outShape: Vec3 = [0, 1, 2].map((d) => Math.max(vol.shape[d], size[d])) as Vec3;
  if (outShape[0] === vol.shape[0] && outShape[1] === vol.shape[1] && outShape[2] === vol.shape[2]) return vol;
  return cropVolume(vol, [-before[0], -before[1], -before[2]], outShape, opts.value ?? 0);
}

/** Options of {@link SpatialPadd}. */
export type SpatialPaddOptions = KeysOptions & SpatialPadOptions;

/** Dictionary form of {@link spatialPad}. */
export class SpatialPadd extends MapTransform<SpatialPaddOptions> {
  readonly name = 'SpatialPadd';

  constructor(options: SpatialPaddOptions) {
    super(options);
    checkSize(options.size);
  }

  apply(sample: Sample): Sample {
    return this.mapKeys(sample, (v) => spatialPad(v, this.options));
  }
}
