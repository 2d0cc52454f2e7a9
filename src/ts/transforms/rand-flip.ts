/** RandFlip(d): mirror along chosen axes with a probability. */
import { invalidArg, describeValue } from '../errors';
import type { Volume, VoxelArray } from '../volume';
import type { Rng } from '../util/rng';
import type { AxisMap } from './ops';
import { axisMapVolume } from './ops';
import type { KeysOptions, Sample } from './types';
import { MapTransform, checkProb, requireRng } from './types';

function checkAxes(axes: unknown): number[] {
  const list = axes === undefined ? [0, 1, 2] : typeof axes === 'number' ? [axes] : axes;
  if (!Array.isArray(list) || !list.every((a) => a === 0 || a === 1 || a === 2) || new Set(list).size !== list.length) {
    throw invalidArg('spatialAxis', `expected distinct axes among 0, 1, 2, got ${describeValue(axes)}`);
  }
  return list as number[];
}

/**
 * Mirrors `vol` along each axis in `axes` (all three when omitted). The affine is updated so every
 * voxel keeps its world position: the anatomy moves in the array, not in the patient.
 */
export function flip<T extends VoxelArray>(vol: Volume<T>, axes?: number | number[]): Volume<T> {
  const list = checkAxes(axes);
  const map: AxisMap = { axis: [0, 1, 2], sign: [1, 1, 1] };
  for (const a of list) map.sign[a] = -1;
  return axisMapVolume(vol, map);
}

/** Options of {@link randFlip}. */
export interface RandFlipOptions {
  /** Probability of flipping. Default 0.1, as in MONAI. */
  prob?: number;
  /** Axis or axes flipped together; all three when omitted. */
  spatialAxis?: number | number[];
}

/** Draws whether to flip: one uniform number, compared with `prob`. */
export function randFlipDecision(rng: Rng, prob: number): boolean {
  return rng.next() < prob;
}

/** Array form: flips with probability `prob`; returns the input itself when it does not. */
export function randFlip<T extends VoxelArray>(vol: Volume<T>, opts: RandFlipOptions, rng: Rng): Volume<T> {
  const prob = checkProb(opts.prob ?? 0.1);
  return randFlipDecision(rng, prob) ? flip(vol, opts.spatialAxis) : vol;
}

/** Options of {@link RandFlipd}. */
export type RandFlipdOptions = KeysOptions & RandFlipOptions;

/** Dictionary form: one decision per sample, applied to every key alike so image and label stay aligned. */
export class RandFlipd extends MapTransform<RandFlipdOptions> {
  readonly name = 'RandFlipd';
  override readonly random = true;

  constructor(options: RandFlipdOptions) {
    super(options);
    checkProb(options.prob ?? 0.1);
    checkAxes(options.spatialAxis);
  }

  apply(sample: Sample, rng?: Rng): Sample {
    const doFlip = randFlipDecision(requireRng(rng, this.name), this.options.prob ?? 0.1);
    if (!doFlip) return { ...sample };
    return this.mapKeys(sample, (v) => flip(v, this.options.spatialAxis));
  }
}
