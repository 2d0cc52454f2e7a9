/**
 * CropForeground(d): the bounding box of the selected voxels plus a margin, clipped to the volume
 * (or padded, where asked). The box is kept so a result can be pasted back with {@link pasteBack}.
 */
import { LiversegError, invalidArg, describeValue } from '../errors';
import type { Vec3, Volume, VoxelArray } from '../volume';
import { assertVolume, assertShape } from '../volume';
import type { KeysOptions, Sample } from './types';
import { MapTransform, toVec3 } from './types';
import { allocLike, cropVolume, makeVolume, shiftOrigin } from './ops';
import { boundingBox, Box, widenBox } from '../geometry/boxes';

export type { Box };

/** Options of {@link foregroundBox} and {@link cropForeground}. */
export interface CropForegroundOptions {
  /** Voxels added on each side of the bounding box, one number or per axis. Default 0. */
  margin?: number | number[];
  /** Voxels with value > threshold are selected. Default 0 (select x > 0). */
  threshold?: number;
  /** A custom selection instead of `threshold` (array form only: a function cannot travel in a spec). */
  select?: (value: number) => boolean;
  /** Where the widened box runs past the volume: 'clip' it (default, MONAI's behaviour) or 'pad' with zeros. */
  boundary?: 'clip' | 'pad';
}

/**
 * The box of `source`'s selected voxels widened by `margin`. Throws ERR_EMPTY_FOREGROUND when
 * nothing is selected: a zero-size crop would only fail later, further from the cause.
 */
export function foregroundBox(source: Volume, opts: CropForegroundOptions = {}): Box {
  const margin = toVec3((opts.margin ?? 0) as number | number[], 'margin');
  if (!margin.every((m) => Number.isInteger(m) && m >= 0)) throw invalidArg('margin', `expected non-negative integers, got ${describeValue(opts.margin)}`);
  const box = boundingBox(source.data, source.shape, opts);
  if (!box) {
    throw new LiversegError(
      'ERR_EMPTY_FOREGROUND',
      `CropForeground: no voxel is selected (${opts.select ? 'custom select' : `value > ${opts.threshold ?? 0}`}) in a volume of shape ${describeValue(source.shape)}; nothing to crop to`,
    );
  }
  return widenBox(box, margin, source.shape, opts.boundary ?? 'clip');
}

/** The part of `vol` inside `box` (zero-filled where the box lies outside), with the origin moved to the box start. */
export function cropToBox<T extends VoxelArray>(vol: Volume<T>, box: Box): Volume<T> {
  const size = [0, 1, 2].map((a) => box.end[a] - box.start[a]) as Vec3;
  assertShape(size, 'box size');
  return cropVolume(vol, box.start, size);
}

/** Array form: crops `vol` to the foreground box of `source` (default: `vol` itself). Returns the crop and its box. */
export function cropForeground<T extends VoxelArray>(vol: Volume<T>, opts: CropForegroundOptions = {}, source: Volume = vol): { volume: Volume<T>; box: Box } {
  const box = foregroundBox(source, opts);
  return { volume: cropToBox(vol, box), box };
}

/**
 * Puts `cropped` back at `box` inside a volume of `fullShape` filled with `fill`, the inverse of a
 * foreground crop (the parts of a padded box outside the full volume are dropped). The affine is
 * `like`'s where given (the original CT), else the crop's with its origin moved back.
 */
export function pasteBack<T extends VoxelArray>(cropped: Volume<T>, box: Box, fullShape: Vec3, options: { fill?: number; like?: Volume } = {}): Volume<T> {
  assertVolume(cropped, 'cropped');
  assertShape(fullShape, 'fullShape');
  const size = [0, 1, 2].map((a) => box.end[a] - box.start[a]);
  if (size[0] !== cropped.shape[0] || size[1] !== cropped.shape[1] || size[2] !== cropped.shape[2]) {
    throw invalidArg('box', `spans ${describeValue(size)} but the cropped volume has shape ${describeValue(cropped.shape)}`, 'ERR_SHAPE_MISMATCH');
  }
  const [ni, nj, nk] = fullShape;
  const [ci, cj] = cropped.shape;
  const out = allocLike(cropped.data, ni * nj * nk);
  if (options.fill) out.fill(options.fill);
  const i0 = Math.max(0, box.start[0]);
  const i1 = Math.min(ni, box.end[0]);
  if (i1 > i0) {
    const len = i1 - i0;
    for (let k = Math.max(0, box.start[2]); k < Math.min(nk, box.end[2]); k++) {
      for (let j = Math.max(0, box.start[1]); j < Math.min(nj, box.end[1]); j++) {
        const s = ((k - box.start[2]) * cj + (j - box.start[1])) * ci + (i0 - box.start[0]);
        (out as VoxelArray).set((cropped.data as VoxelArray).subarray(s, s + len) as never, (k * nj + j) * ni + i0);
      }
    }
  }
  const like = options.like;
  if (like)
    return makeVolume(
      like,
      out,
      fullShape,
      like.spacing,
      like.affine.map((r) => [...r]),
    );
  return makeVolume(cropped, out, fullShape, cropped.spacing, shiftOrigin(cropped.affine, [-box.start[0], -box.start[1], -box.start[2]]));
}

/** Options of {@link CropForegroundd}. */
export interface CropForegrounddOptions extends KeysOptions {
  /** Key whose voxels decide the box (e.g. 'label', or 'image' for the body). */
  sourceKey: string;
  /** As in {@link CropForegroundOptions}. Default 0. */
  margin?: number | number[];
  /** Select value > threshold. Default 0. */
  threshold?: number;
  /** 'clip' (default) or 'pad'. */
  boundary?: 'clip' | 'pad';
  /** Sample key the box is stored under, together with the uncropped shape. Default 'foregroundBox'. */
  boxKey?: string;
}

/** What {@link CropForegroundd} stores on the sample: the box and the shape it was cut from. */
export interface StoredBox extends Box {
  /** Shape of the volume before cropping, for {@link pasteBack}. */
  shape: Vec3;
}

/** Dictionary form: every key cropped to the box of `sourceKey`; the box is kept on the sample under `boxKey`. */
export class CropForegroundd extends MapTransform<CropForegrounddOptions> {
  readonly name = 'CropForegroundd';

  constructor(options: CropForegrounddOptions) {
    super(options);
    if (typeof options.sourceKey !== 'string' || !options.sourceKey)
      throw invalidArg('sourceKey', `expected a sample key, got ${describeValue(options.sourceKey)}`);
    if (options.boundary !== undefined && options.boundary !== 'clip' && options.boundary !== 'pad') {
      throw invalidArg('boundary', `expected 'clip' or 'pad', got ${describeValue(options.boundary)}`);
    }
  }

  apply(sample: Sample): Sample {
    const source = sample[this.options.sourceKey];
    assertVolume(source, `sample.${this.options.sourceKey}`);
    const box = foregroundBox(source, this.options);
    const out = this.mapKeys(sample, (v, key) => {
      if (v.shape[0] !== source.shape[0] || v.shape[1] !== source.shape[1] || v.shape[2] !== source.shape[2]) {
        throw invalidArg(
          'sample',
          `${this.name}: '${key}' has shape ${describeValue(v.shape)} but '${this.options.sourceKey}' has ${describeValue(source.shape)}`,
          'ERR_SHAPE_MISMATCH',
        );
      }
      return cropToBox(v, box);
    });
    const stored: StoredBox = { start: box.start, end: box.end, shape: [...source.shape] as Vec3 };
    out[this.options.boxKey ?? 'foregroundBox'] = stored;
    return out;
  }
}
