/**
 * `segment()`: a CT in, a liver mask out, in the CT's own geometry.
 *
 * Two-stage pipelines run coarse-to-fine as the report did: the coarse model sees the whole
 * volume resized to its training size and finds the liver; its largest component's box, mapped
 * back to full resolution and widened by the fine model's margin, is the only region the fine
 * model segments by sliding windows. Everything runs in canonical (RAS) voxel order and the mask
 * is put back into the input's orientation at the end, exactly (no interpolation).
 */
import { performance } from 'perf_hooks';
import { describeValue, invalidArg } from '../errors';
import { maskLike } from '../io/mask';
import { loadVolume } from '../io/nifti-read';
import { fromCanonicalAsync, toCanonicalAsync } from '../geometry/orientation';
import { boundingBox, Box, mapBoxToFull } from '../geometry/boxes';
import { pasteBack } from '../transforms/crop-foreground';
import { cropData } from '../transforms/ops';
import { assertVolume, Vec3, Volume, withData } from '../volume';
import { assertFiniteVoxels } from '../io/voxels';
import { sharedLike, toSharedNativeArray } from '../native/dtypes';
import { SLIDING_WINDOW_DEFAULTS } from '../nets/config';
import { checkWindowCount } from '../nets/sliding-window-plan';
import { throwIfAborted } from '../errors';
import { keepLargestComponent as largestComponent, labelComponents, resizeArea } from '../nets/backends/volume-ops';
import type { EngineOption } from '../nets/backends/types';
import { assertEngineOption, engineOf, FINE_MODES, FineMode, wholePassPlan } from './engine';
import { assertLoadedPipeline, LoadedPipeline, loadPipeline } from './pipeline';

export interface SegmentOptions {
  /** A pipeline or model bundle JSON path, or a pipeline loaded with `loadPipeline`. */
  model: string | LoadedPipeline;
  /** 'auto', 'cpu', 'cuda' or 'cuda:N' (used when `model` is a path). */
  device?: string;
  /** Sliding-window overlap, 0 <= overlap < 1. Default 0.25. */
  overlap?: number;
  /** Window blending: 'gaussian' (default) or 'constant'. */
  blend?: 'gaussian' | 'constant';
  /** Windows per forward pass. Default 1 on the CPU, 4 on CUDA. */
  windowsPerBatch?: number;
  /** Test-time mirroring over the three axes (8 passes per window). Default false. */
  mirror?: boolean;
  /** Keep only the largest 26-connected component. Default true. */
  keepLargestComponent?: boolean;
  /**
   * The inference engine when `model` is a path: 'auto' (default: LIVERSEG_ENGINE, else LibTorch on
   * CUDA, onnxruntime-node on the CPU when installed, onnxruntime-node when the addon cannot load),
   * 'libtorch' or 'onnxruntime'. A loaded pipeline keeps the engine it was loaded with.
   */
  engine?: EngineOption;
  /**
   * The fine stage: 'windows' (sliding windows), 'whole' (one pass over the padded region when it
   * fits `maxVoxelsPerPass`, else windows) or 'auto' (whole where it fits and saves work, on the
   * CPU). Default: the pipeline's, else 'windows' (see DEFAULT_FINE_MODE).
   */
  fineMode?: FineMode;
  /** The largest padded region one 'whole' pass may cover, in voxels. Default: what keeps the pass under about 4 GiB. */
  maxVoxelsPerPass?: number;
  signal?: AbortSignal;
}

export interface StageTimings {
  /** Milliseconds per stage. */
  load: number;
  coarse: number;
  fine: number;
  postprocess: number;
  total: number;
}

/** A liver mask (uint8, 1 = liver) on the input's grid, with what the run did. */
export interface Mask extends Volume<Uint8Array> {
  /** False when the coarse stage found no liver; the mask is then empty. */
  liverFound: boolean;
  /** The region the fine stage segmented, in canonical (RAS-ordered) voxel indices, [start, end). */
  roi: Box | null;
  timings: StageTimings;
}

const BOOLEAN_OPTIONS = ['mirror', 'keepLargestComponent'] as const;

/**
 * The fine stage's default mode. 'auto' (one pass where it fits and saves work) halves the fine
 * stage's time on the CPU but lost 0.16 Dice on unseen phantoms against windows (the one pass
 * normalises over the whole region, the model was trained on window-sized patches), so windows stay
 * the default; docs/BENCHMARKS.md has the comparison (tests/e2e/onnx-pipeline.test.ts measures it).
 */
export const DEFAULT_FINE_MODE: FineMode = 'windows';

function checkOptions(o: SegmentOptions): void {
  if (o === null || typeof o !== 'object') throw invalidArg('options', `expected an object, got ${describeValue(o)}`);
  if (typeof o.model !== 'string') assertLoadedPipeline(o.model, 'options.model');
  if (o.overlap !== undefined && !(typeof o.overlap === 'number' && o.overlap >= 0 && o.overlap < 1)) {
    throw invalidArg('options.overlap', `expected a number in [0, 1), got ${describeValue(o.overlap)}`);
  }
  if (o.windowsPerBatch !== undefined && !(Number.isInteger(o.windowsPerBatch) && o.windowsPerBatch >= 1)) {
    throw invalidArg('options.windowsPerBatch', `expected a positive integer, got ${describeValue(o.windowsPerBatch)}`);
  }
  if (o.blend !== undefined && o.blend !== 'gaussian' && o.blend !== 'constant') {
    throw invalidArg('options.blend', `expected 'gaussian' or 'constant', got ${describeValue(o.blend)}`);
  }
  for (const k of BOOLEAN_OPTIONS) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw invalidArg(`options.${k}`, `expected true or false, got ${describeValue(o[k])}`);
  }
  if (o.device !== undefined && typeof o.device !== 'string')
    throw invalidArg('options.device', `expected 'auto', 'cpu', 'cuda' or 'cuda:N', got ${describeValue(o.device)}`);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal))
    throw invalidArg('options.signal', `expected an AbortSignal, got ${describeValue(o.signal)}`);
  if (o.engine !== undefined) assertEngineOption(o.engine, 'options.engine');
  if (o.fineMode !== undefined && !FINE_MODES.includes(o.fineMode)) {
    throw invalidArg('options.fineMode', `expected ${FINE_MODES.map((m) => `'${m}'`).join(', ')}, got ${describeValue(o.fineMode)}`);
  }
  if (o.maxVoxelsPerPass !== undefined && !(Number.isInteger(o.maxVoxelsPerPass) && o.maxVoxelsPerPass >= 1)) {
    throw invalidArg('options.maxVoxelsPerPass', `expected a positive integer (voxels), got ${describeValue(o.maxVoxelsPerPass)}`);
  }
  if (o.engine !== undefined && o.engine !== 'auto' && typeof o.model !== 'string' && engineOf(o.model.fine.net) !== o.engine) {
    throw invalidArg(
      'options.engine',
      `'${o.engine}', but the pipeline was loaded on ${engineOf(o.model.fine.net)}; load it with loadPipeline(path, { engine: '${o.engine}' })`,
    );
  }
}

/**
 * The coarse stage's liver: of the components of (probability >= 0.5), the one holding the most
 * probability mass, not merely the most voxels, so a large lukewarm false positive (bowel, spleen)
 * loses to the confident liver. Its bounding box on the coarse grid, or null when there is none.
 */
export async function likeliestLiverBox(probs: Float32Array, size: Vec3): Promise<Box | null> {
  const n = size[0] * size[1] * size[2];
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = probs[i] >= 0.5 ? 1 : 0;
  const { labels, sizes } = await labelComponents(mask, size);
  if (sizes.length === 0) return null;
  const mass = new Float64Array(sizes.length + 1);
  for (let i = 0; i < n; i++) if (labels[i] > 0) mass[labels[i]] += probs[i];
  let best = 1;
  for (let l = 2; l <= sizes.length; l++) if (mass[l] > mass[best]) best = l;
  return boundingBox(labels, size, { select: (v) => v === best });
}

/**
 * Segments the liver in a CT.
 * @param input a `Volume` in Hounsfield units, a NIfTI path, or a DICOM series (folder, .zip, file list or Buffers; see `loadVolume`).
 * @example
 * const mask = await segment('ct.nii.gz', { model: 'models/pipeline.json' });
 * await saveVolume('liver.nii.gz', mask);
 * console.log(mask.timings.total, mask.liverFound);
 */
export async function segment(input: Volume | import('../io/load-volume').VolumeSource, options: SegmentOptions): Promise<Mask> {
  checkOptions(options);
  const t0 = performance.now();
  const signal = options.signal;
  throwIfAborted(signal, 'segment()');
  const volume = typeof input === 'string' || Array.isArray(input) || input instanceof Uint8Array ? await loadVolume(input) : (input as Volume);
  assertVolume(volume, 'volume');
  if (volume.shape.some((s) => s < 2)) {
    throw invalidArg(
      'volume.shape',
      `${describeValue(volume.shape)} is not a 3D volume (a 2D image or a single slice cannot be segmented)`,
      'ERR_SHAPE_MISMATCH',
    );
  }
  await assertFiniteVoxels(volume.data, 'volume.data');
  const pipeline = typeof options.model === 'string' ? await loadPipeline(options.model, { device: options.device, engine: options.engine }) : options.model;
  const tLoad = performance.now();
  throwIfAborted(signal, 'segment()');

  const { volume: canon, transform } = await toCanonicalAsync(volume);
  const data = await toSharedNativeArray(canon.data);
  const shape = canon.shape as Vec3;
  const onGpu = pipeline.fine.net.device.startsWith('cuda');
  const windowsPerBatch = options.windowsPerBatch ?? (onGpu ? 4 : 1);
  const keepLargest = options.keepLargestComponent ?? true;

  let roi: Box | null = { start: [0, 0, 0], end: [...shape] as Vec3 };
  let tCoarse = tLoad;
  if (pipeline.kind === 'two-stage' && pipeline.coarse) {
    const coarse = pipeline.coarse;
    const size = coarse.bundle.inputSize as Vec3;
    const resized = await resizeArea(data, shape, size);
    throwIfAborted(signal, 'segment()');
    const probs = await coarse.net.predictVolume(
      { data: resized, shape: size },
      { sliding: false, intensity: coarse.bundle.intensity, output: 'probabilities' },
    );
    const box = await likeliestLiverBox(probs.data, size);
    roi = box ? mapBoxToFull(box, size, shape, pipeline.margin) : null;
    tCoarse = performance.now();
  }

  let full: Uint8Array;
  if (roi === null) {
    full = new Uint8Array(data.length);
  } else {
    throwIfAborted(signal, 'segment()');
    const fine = pipeline.fine;
    const size = [0, 1, 2].map((a) => roi!.end[a] - roi!.start[a]) as Vec3;
    const whole = size.every((s, a) => s === shape[a]);
    const overlap = options.overlap ?? SLIDING_WINDOW_DEFAULTS.overlap;
    checkWindowCount(size, fine.bundle.inputSize, overlap, 'options.overlap');
    // Cut into shared memory, which the addon reads in place (see toSharedNativeArray).
    const crop = whole ? data : cropData(data, shape, roi.start, size, 0, sharedLike(data, size[0] * size[1] * size[2]));
    // One pass over the whole region is one window the size of the region (padded to the model's
    // input size where smaller, as the windows are): no overlap, nothing to blend.
    const onePass = wholePassPlan(options.fineMode ?? pipeline.fineMode ?? DEFAULT_FINE_MODE, size, fine.bundle.inputSize as Vec3, overlap, {
      architecture: fine.net.architecture,
      onGpu,
      maxVoxelsPerPass: options.maxVoxelsPerPass ?? pipeline.maxVoxelsPerPass,
    });
    const pred = await fine.net.predictVolume(
      { data: crop, shape: size },
      {
        roi: onePass ?? (fine.bundle.inputSize as Vec3),
        overlap,
        blend: onePass ? 'constant' : (options.blend ?? SLIDING_WINDOW_DEFAULTS.blend),
        batchSize: windowsPerBatch,
        mirror: options.mirror ?? SLIDING_WINDOW_DEFAULTS.mirror,
        intensity: fine.bundle.intensity,
        output: 'mask',
        signal,
      },
    );
    const roiMask = (pred.data as Uint8Array).subarray(0, size[0] * size[1] * size[2]);
    full = whole ? roiMask : pasteBack(withData(canon, roiMask, size), roi, shape).data;
  }
  const tFine = performance.now();
  // A one-pass fine stage has no window boundary to stop at: the abort is honoured here.
  throwIfAborted(signal, 'segment()');

  let liverFound = roi !== null;
  if (liverFound && keepLargest) {
    const kept = await largestComponent(full, shape);
    full = kept.mask;
    liverFound = kept.keptVoxels > 0;
  }
  const restored = await fromCanonicalAsync(withData(canon, full), transform);
  const tPost = performance.now();
  return {
    ...maskLike(volume, restored.data),
    liverFound,
    roi,
    timings: { load: tLoad - t0, coarse: tCoarse - tLoad, fine: tFine - tCoarse, postprocess: tPost - tFine, total: tPost - t0 },
  };
}
