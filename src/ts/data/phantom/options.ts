/**
 * Phantom stage 1: the options a caller gives, checked, with every default filled in. The random
 * defaults come from the seed's geometry stream, which {@link resolveOptions} hands on to the
 * anatomy (stage 2) positioned just after them: the draws must keep this order, so the same seed
 * gives the same phantom bit for bit.
 */
import { invalidArg, describeValue } from '../../errors';
import type { Vec3 } from '../../volume';
import { Rng } from '../../util/rng';

const { max } = Math;

/** Options of {@link makePhantom}. Every random choice defaults from `seed`. */
export interface PhantomOptions {
  /** Output shape [ni, nj, nk]. */
  shape: number[];
  /**
   * Voxel size in mm. Default: chosen so the field of view is a clinical one (300..460 mm across, which is
   * 0.6..0.9 mm in-plane at 512 px; 200..400 mm long, 1..2 mm slices at 200 slices).
   */
  spacing?: number[];
  /** Seed for every random choice. Default 0. */
  seed?: number;
  /** Contrast-enhanced (portal venous) phase: liver about 100 HU and a bright aorta. Default random (70 % yes). */
  contrast?: boolean;
  /** Number of liver tumours, 0..3. Default random. */
  tumours?: number;
  /** Image noise standard deviation in HU. Default uniform 10..25. */
  noiseSigma?: number;
  /** Blur (Gaussian sigma in mm, per axis converted to voxels); 0 disables. Default uniform 0.6..1.0. */
  blurSigmaMm?: number;
  /**
   * Field-of-view centre offset from the default position, in mm [x, y, z] (RAS). Default random:
   * up to 25 mm sideways, 20 mm front-back and 30 % of the field of view along z, so the liver is
   * sometimes cut by the volume's edge (its centre always stays inside).
   */
  fovShift?: number[];
}

/** {@link PhantomOptions} with every default decided: a plain value. */
export interface ResolvedPhantomOptions {
  shape: Vec3;
  spacing: Vec3;
  seed: number;
  contrast: boolean;
  tumours: number;
  noiseSigma: number;
  blurSigmaMm: number;
  /**
   * The caller's field-of-view shift, or null when it is random: that one is drawn with the anatomy
   * (after the tumours), where the geometry stream has always drawn it.
   */
  fovShift: Vec3 | null;
}

/** The two random streams of a phantom: geometry (options' defaults, anatomy, table) and noise. */
export interface PhantomStreams {
  geo: Rng;
  noise: Rng;
}

/**
 * The streams of `seed`. They are separate so that changing the noise level leaves the anatomy
 * alone (when both levels are given; a default noise level is itself a geometry-stream draw).
 */
export function phantomStreams(seed: number): PhantomStreams {
  const rng = new Rng(seed);
  const geo = rng.fork();
  const noise = rng.fork();
  return { geo, noise };
}

/** Throws a LiversegError (ERR_INVALID_ARG) for a bad option; returns the shape. */
export function validateOptions(o: PhantomOptions): Vec3 {
  if (o === null || typeof o !== 'object') throw invalidArg('options', `expected an object, got ${describeValue(o)}`);
  const s = o.shape;
  if (!Array.isArray(s) || s.length !== 3 || !s.every((n) => Number.isInteger(n) && n >= 1 && n <= 4096)) {
    throw invalidArg('shape', `expected 3 integers in 1..4096, got ${describeValue(s)}`);
  }
  if (
    o.spacing !== undefined &&
    (!Array.isArray(o.spacing) || o.spacing.length !== 3 || !o.spacing.every((x) => typeof x === 'number' && x > 0 && Number.isFinite(x)))
  ) {
    throw invalidArg('spacing', `expected 3 positive numbers (mm), got ${describeValue(o.spacing)}`);
  }
  if (o.tumours !== undefined && !(Number.isInteger(o.tumours) && o.tumours >= 0 && o.tumours <= 3)) {
    throw invalidArg('tumours', `expected an integer 0..3, got ${describeValue(o.tumours)}`);
  }
  if (o.noiseSigma !== undefined && !(typeof o.noiseSigma === 'number' && o.noiseSigma >= 0 && Number.isFinite(o.noiseSigma))) {
    throw invalidArg('noiseSigma', `expected a non-negative number, got ${describeValue(o.noiseSigma)}`);
  }
  if (o.blurSigmaMm !== undefined && !(typeof o.blurSigmaMm === 'number' && o.blurSigmaMm >= 0 && Number.isFinite(o.blurSigmaMm))) {
    throw invalidArg('blurSigmaMm', `expected a non-negative number, got ${describeValue(o.blurSigmaMm)}`);
  }
  if (o.fovShift !== undefined && (!Array.isArray(o.fovShift) || o.fovShift.length !== 3 || !o.fovShift.every(Number.isFinite))) {
    throw invalidArg('fovShift', `expected 3 numbers (mm), got ${describeValue(o.fovShift)}`);
  }
  return [s[0], s[1], s[2]];
}

/** Field-of-view defaults: clinical sizes, see {@link PhantomOptions.spacing}. */
export function defaultSpacing(shape: Vec3, rng: Rng): Vec3 {
  const inPlane = rng.uniform(300, 460) / max(shape[0], shape[1]);
  const zFov = rng.uniform(200, 400);
  return [inPlane, inPlane, zFov / shape[2]];
}

/**
 * Checks `options` and decides its defaults. Returns the resolved options and the seed's streams,
 * `geo` positioned after the defaults' draws (pass it on to {@link makeAnatomy}).
 */
export function resolveOptions(options: PhantomOptions): { options: ResolvedPhantomOptions } & PhantomStreams {
  const shape = validateOptions(options);
  const seed = options.seed ?? 0;
  const { geo, noise } = phantomStreams(seed);
  // The order of these draws is part of every phantom's identity: do not reorder.
  const spacing: Vec3 = options.spacing ? [options.spacing[0], options.spacing[1], options.spacing[2]] : defaultSpacing(shape, geo);
  const contrast = options.contrast ?? geo.next() < 0.7;
  const tumours = options.tumours ?? geo.int(4);
  const noiseSigma = options.noiseSigma ?? geo.uniform(10, 25);
  const blurSigmaMm = options.blurSigmaMm ?? geo.uniform(0.6, 1.0);
  const fovShift: Vec3 | null = options.fovShift ? [options.fovShift[0], options.fovShift[1], options.fovShift[2]] : null;
  return { options: { shape, spacing, seed, contrast, tumours, noiseSigma, blurSigmaMm, fovShift }, geo, noise };
}
