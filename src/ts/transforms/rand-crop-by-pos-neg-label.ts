/**
 * RandCropByPosNegLabel(d): patches centred on foreground or background voxels in a chosen ratio,
 * MONAI semantics (SPEC section 5).
 */
import { LiversegError, invalidArg, describeValue } from '../errors';
import type { Vec3, Volume, VoxelArray } from '../volume';
import { assertVolume } from '../volume';
import type { Rng } from '../util/rng';
import type { KeysOptions, Sample } from './types';
import { MapTransform, requireRng } from './types';
import { cropVolume } from './ops';

/** Options of {@link randCropByPosNegLabel}. */
export interface RandCropByPosNegLabelOptions {
  /** Patch size [ni, nj, nk]; -1 or 0 on an axis means the volume's own size there (MONAI's fall_back_tuple). */
  size: number[];
  /** Patches per call. Default 1. */
  numSamples?: number;
  /** Weight of foreground-centred patches. Default 1. */
  pos?: number;
  /** Weight of background-centred patches. Default 1. */
  neg?: number;
  /** With an image given, only background voxels whose image value is above this are candidate centres (MONAI: the foreground is never restricted). Default 0. */
  imageThreshold?: number;
  /**
   * When the volume is smaller than `size` on an axis, crop the whole axis instead of throwing.
   * Default false (pad first with SpatialPad).
   */
  allowSmaller?: boolean;
}

/**
 * Candidate centres of one label volume. The smaller of the two sets is kept as an explicit index
 * list; a set covering at least half the volume is sampled by rejection instead, which draws
 * uniformly from the same set without holding hundreds of megabytes of background indices for a
 * full-resolution CT.
 */
export interface PosNegIndices {
  /** Number of voxels with label != 0 (never restricted by the image). */
  fgCount: number;
  /** Number of voxels with label == 0 (and image > threshold). */
  bgCount: number;
  /** Explicit foreground indices (NIfTI linear order), or null when sampled by rejection. */
  fg: Uint32Array | null;
  /** Explicit background indices, or null when sampled by rejection. */
  bg: Uint32Array | null;
  readonly label: VoxelArray;
  readonly image: VoxelArray | null;
  readonly threshold: number;
}

interface MemoEntry {
  plain?: PosNegIndices;
  byImage?: WeakMap<VoxelArray, Map<number, PosNegIndices>>;
}

// Keyed by the label's typed array: a cached sample's label survives the deterministic transforms
// and every shallow sample copy, so each volume is scanned once however many epochs run.
const memo = new WeakMap<VoxelArray, MemoEntry>();

function computeIndices(label: VoxelArray, image: VoxelArray | null, threshold: number): PosNegIndices {
  const n = label.length;
  let fgCount = 0;
  let bgCount = 0;
  if (image) {
    for (let v = 0; v < n; v++) {
      if (label[v] !== 0) fgCount++;
      else if (image[v] > threshold) bgCount++;
    }
  } else {
    for (let v = 0; v < n; v++) if (label[v] !== 0) fgCount++;
    bgCount = n - fgCount;
  }
  const explicitFg = fgCount > 0 && !(fgCount * 2 >= n);
  const explicitBg = bgCount > 0 && !(bgCount * 2 >= n);
  const fg = explicitFg ? new Uint32Array(fgCount) : null;
  const bg = explicitBg ? new Uint32Array(bgCount) : null;
  if (fg || bg) {
    let f = 0;
    let b = 0;
    for (let v = 0; v < n; v++) {
      if (label[v] !== 0) {
        if (fg) fg[f++] = v;
      } else if (bg && (!image || image[v] > threshold)) bg[b++] = v;
    }
  }
  return { fgCount, bgCount, fg, bg, label, image, threshold };
}

/**
 * Foreground (label != 0) and background (label == 0) candidate centres of `label`, restricted to
 * image > `imageThreshold` when `image` is given. Memoised per label array (and image array and
 * threshold), so repeated calls on a cached volume cost nothing. The memo trusts that voxel
 * arrays are not written to after their first use, which holds for every liverseg transform.
 */
export function posNegIndices(label: Volume, image?: Volume, imageThreshold = 0): PosNegIndices {
  let entry = memo.get(label.data);
  if (!entry) {
    entry = {};
    memo.set(label.data, entry);
  }
  if (!image) {
    if (!entry.plain) entry.plain = computeIndices(label.data, null, 0);
    return entry.plain;
  }
  if (image.data.length !== label.data.length) {
    throw invalidArg('image', `has ${image.data.length} voxels but the label has ${label.data.length}`, 'ERR_SHAPE_MISMATCH');
  }
  if (!entry.byImage) entry.byImage = new WeakMap();
  let byThr = entry.byImage.get(image.data);
  if (!byThr) {
    byThr = new Map();
    entry.byImage.set(image.data, byThr);
  }
  let idx = byThr.get(imageThreshold);
  if (!idx) {
    idx = computeIndices(label.data, image.data, imageThreshold);
    byThr.set(imageThreshold, idx);
  }
  return idx;
}

function drawIndex(idx: PosNegIndices, foreground: boolean, rng: Rng): number {
  const list = foreground ? idx.fg : idx.bg;
  if (list) return list[rng.int(list.length)];
  const { label, image, threshold } = idx;
  const n = label.length;
  // Rejection sampling only runs for a set covering at least half the volume: <= 2 draws expected.
  for (;;) {
    const v = rng.int(n);
    if ((label[v] !== 0) !== foreground) continue;
    if (!foreground && image && !(image[v] > threshold)) continue;
    return v;
  }
}

function checkOptions(o: RandCropByPosNegLabelOptions): void {
  if (!Array.isArray(o.size) || o.size.length !== 3 || !o.size.every((s) => Number.isInteger(s) && s >= -1)) {
    throw invalidArg('size', `expected 3 integers [ni, nj, nk] (positive, or -1 / 0 for the volume's size), got ${describeValue(o.size)}`);
  }
  const ns = o.numSamples ?? 1;
  if (!Number.isInteger(ns) || ns < 1) throw invalidArg('numSamples', `expected a positive integer, got ${describeValue(ns)}`);
  for (const k of ['pos', 'neg'] as const) {
    const v = o[k] ?? 1;
    if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw invalidArg(k, `expected a non-negative number, got ${describeValue(v)}`);
  }
  if ((o.pos ?? 1) + (o.neg ?? 1) <= 0) throw invalidArg('pos', 'pos and neg cannot both be 0');
}

/**
 * The effective crop size for a volume of `shape`: `size`, or the volume's own extent on axes where
 * it is smaller and `allowSmaller` is set.
 */
export function posNegCropSize(shape: readonly number[], opts: RandCropByPosNegLabelOptions): Vec3 {
  const out: Vec3 = [0, 0, 0];
  for (let d = 0; d < 3; d++) {
    if (opts.size[d] <= 0) out[d] = shape[d];
    else if (shape[d] < opts.size[d]) {
      if (!opts.allowSmaller) {
        throw invalidArg(
          'size',
          `crop ${describeValue(opts.size)} is larger than the volume ${describeValue([...shape])}; pad first (SpatialPadd) or set allowSmaller`,
        );
      }
      out[d] = shape[d];
    } else out[d] = opts.size[d];
  }
  return out;
}

/**
 * Draws `numSamples` crop boxes: per sample, a foreground centre with probability pos / (pos + neg)
 * (always background when there is no foreground, always foreground when there is no background),
 * clamped so the box lies inside the volume. Returns the boxes' start corners.
 * Throws ERR_EMPTY_FOREGROUND when there is neither foreground nor background.
 */
export function posNegCropStarts(label: Volume, opts: RandCropByPosNegLabelOptions, rng: Rng, image?: Volume): Vec3[] {
  checkOptions(opts);
  const size = posNegCropSize(label.shape, opts);
  const idx = posNegIndices(label, image, opts.imageThreshold ?? 0);
  if (idx.fgCount === 0 && idx.bgCount === 0) {
    throw new LiversegError(
      'ERR_EMPTY_FOREGROUND',
      `RandCropByPosNegLabel: no foreground and no background voxels to centre a crop on${image ? ` (no image value is above ${idx.threshold})` : ''}`,
    );
  }
  const pos = opts.pos ?? 1;
  const neg = opts.neg ?? 1;
  const posRatio = pos / (pos + neg);
  const [ni, nj] = label.shape;
  const starts: Vec3[] = [];
  for (let s = 0; s < (opts.numSamples ?? 1); s++) {
    const u = rng.next();
    const foreground = idx.fgCount === 0 ? false : idx.bgCount === 0 ? true : u < posRatio;
    const v = drawIndex(idx, foreground, rng);
    const c = [v % ni, Math.floor(v / ni) % nj, Math.floor(v / (ni * nj))];
    const start: Vec3 = [0, 0, 0];
    for (let d = 0; d < 3; d++) start[d] = Math.min(Math.max(c[d] - Math.floor(size[d] / 2), 0), label.shape[d] - size[d]);
    starts.push(start);
  }
  return starts;
}

/** Array form: `numSamples` crops of `vol`, centred by `label` (and `image`, for the threshold). */
export function randCropByPosNegLabel<T extends VoxelArray>(
  vol: Volume<T>,
  label: Volume,
  opts: RandCropByPosNegLabelOptions,
  rng: Rng,
  image?: Volume,
): Volume<T>[] {
  const size = posNegCropSize(label.shape, opts);
  return posNegCropStarts(label, opts, rng, image).map((start) => cropVolume(vol, start, size));
}

/** Options of {@link RandCropByPosNegLabeld}. */
export interface RandCropByPosNegLabeldOptions extends KeysOptions, RandCropByPosNegLabelOptions {
  /** Key of the label that decides foreground. Default 'label'. */
  labelKey?: string;
  /** Key of the image used with `imageThreshold`; none by default (every voxel is a candidate). */
  imageKey?: string;
}

/**
 * Dictionary form: returns `numSamples` samples, each a shallow copy of the input with every key
 * in `keys` cropped to the same box. A loader flattens them into the batch.
 */
export class RandCropByPosNegLabeld extends MapTransform<RandCropByPosNegLabeldOptions> {
  readonly name = 'RandCropByPosNegLabeld';
  override readonly random = true;

  constructor(options: RandCropByPosNegLabeldOptions) {
    super(options);
    checkOptions(options);
  }

  apply(sample: Sample, rng?: Rng): Sample[] {
    const r = requireRng(rng, this.name);
    const labelKey = this.options.labelKey ?? 'label';
    const label = sample[labelKey];
    assertVolume(label, `sample.${labelKey}`);
    let image: Volume | undefined;
    if (this.options.imageKey !== undefined) {
      const im = sample[this.options.imageKey];
      assertVolume(im, `sample.${this.options.imageKey}`);
      image = im;
    }
    const keys = this.presentKeys(sample);
    for (const key of keys) {
      const v = sample[key] as Volume;
      if (v.shape[0] !== label.shape[0] || v.shape[1] !== label.shape[1] || v.shape[2] !== label.shape[2]) {
        throw invalidArg(
          'sample',
          `${this.name}: '${key}' has shape ${describeValue(v.shape)} but '${labelKey}' has ${describeValue(label.shape)}`,
          'ERR_SHAPE_MISMATCH',
        );
      }
    }
    const size = posNegCropSize(label.shape, this.options);
    return posNegCropStarts(label, this.options, r, image).map((start) => {
      const out: Sample = { ...sample };
      for (const key of keys) out[key] = cropVolume(sample[key] as Volume, start, size);
      return out;
    });
  }
}
