/**
 * Which engine runs inference, and loading a model bundle onto it.
 *
 * 'auto' (the default, or LIVERSEG_ENGINE) picks:
 *   - LibTorch when the model runs on CUDA (device 'cuda...', or 'auto' on a machine with CUDA);
 *   - on the CPU, onnxruntime-node when it is installed: it runs the same network in less time
 *     than LibTorch on the CPUs measured (docs/BENCHMARKS.md); else LibTorch;
 *   - onnxruntime-node whenever the addon cannot load (no LibTorch, another platform, or
 *     LIVERSEG_NATIVE=off), saying so once per process on stderr.
 * 'libtorch' and 'onnxruntime' force one; each fails with its own code when it cannot run
 * (ERR_NATIVE_LOAD, ERR_ONNXRUNTIME). Training always needs LibTorch.
 */
import { describeValue, invalidArg, LiversegError } from '../errors';
import { readVerified } from '../io/atomic-write';
import { backend, nativeAvailable, nativeLoadError, nativeSwitchedOff } from '../native/loader';
import { OnnxResUNet } from '../nets/backends/onnx-net';
import { onnxruntimeAvailability, requireOnnxruntime } from '../nets/backends/onnxruntime';
import { ENGINE_OPTIONS, EngineName, EngineOption, SegmentationNet } from '../nets/backends/types';
import { fileInside, ModelBundle, readModelBundle } from '../bundle/format';
import { readBundleWeights } from '../bundle/model-bundle';
import { loadModel } from '../bundle/load-model';
import * as nodePath from 'path';
import type { Vec3 } from '../volume';
import { estimateForwardBytes, parameterCount, ResolvedArchitecture } from '../nets/config';
import { windowCount } from '../nets/sliding-window-plan';

/** A model of a pipeline: its network on one engine, and the bundle it came from. */
export interface PipelineModel {
  net: SegmentationNet;
  bundle: ModelBundle;
  /** Absolute path of the bundle JSON. */
  path: string;
}

/**
 * How the fine stage covers its region: 'windows' (sliding windows of the model's input size),
 * 'whole' (one forward pass over the whole padded region when it fits `maxVoxelsPerPass`, else
 * windows), 'auto' (whole where that fits and computes fewer voxels than the windows would, on the
 * CPU; windows on CUDA).
 */
export type FineMode = 'windows' | 'whole' | 'auto';
export const FINE_MODES: readonly FineMode[] = ['windows', 'whole', 'auto'];

export interface EngineDecision {
  engine: EngineName;
  /** Why, in a few words (for logs and `liverseg-info`). */
  reason: string;
}

let announced = false;

/** Checks an engine option as a caller wrote it. */
export function assertEngineOption(v: unknown, name: string): asserts v is EngineOption {
  if (!(ENGINE_OPTIONS as readonly unknown[]).includes(v))
    throw invalidArg(name, `expected ${ENGINE_OPTIONS.map((e) => `'${e}'`).join(', ')}, got ${describeValue(v)}`);
}

function wantsCuda(device: string): boolean {
  if (device.startsWith('cuda')) return true;
  if (device !== 'auto') return false;
  try {
    return backend().cudaAvailable;
  } catch {
    return false;
  }
}

/**
 * The engine that runs a model for `requested` on `device` (defaults: LIVERSEG_ENGINE, else 'auto';
 * LIVERSEG_DEVICE, else 'auto'). Throws when the engine asked for cannot run here.
 */
export function resolveEngine(requested?: EngineOption, device?: string): EngineDecision {
  const want = requested ?? (process.env.LIVERSEG_ENGINE as EngineOption | undefined) ?? 'auto';
  assertEngineOption(want, requested === undefined ? 'LIVERSEG_ENGINE' : 'engine');
  const dev = device ?? process.env.LIVERSEG_DEVICE ?? 'auto';
  if (want === 'libtorch') {
    if (!nativeAvailable()) throw nativeLoadError()!;
    return { engine: 'libtorch', reason: 'asked for' };
  }
  if (want === 'onnxruntime') {
    if (dev.startsWith('cuda')) throw invalidArg('device', `'${dev}': the onnxruntime engine runs on the CPU; use engine 'libtorch' (or 'auto') for CUDA`);
    requireOnnxruntime();
    return { engine: 'onnxruntime', reason: 'asked for' };
  }
  const ort = onnxruntimeAvailability();
  if (!nativeAvailable()) {
    const why = nativeLoadError()!;
    if (!ort.available) {
      throw new LiversegError(
        'ERR_NATIVE_LOAD',
        `${why.message} (onnxruntime-node, which runs inference without the addon, is unavailable too: ${ort.reason})`,
        { cause: why },
      );
    }
    if (dev.startsWith('cuda'))
      throw new LiversegError('ERR_NATIVE_LOAD', `${why.message} (CUDA needs the addon; onnxruntime-node runs on the CPU only)`, { cause: why });
    if (!announced) {
      announced = true;
      const short = nativeSwitchedOff() ? `LIVERSEG_NATIVE=${process.env.LIVERSEG_NATIVE}` : why.message.split('. ')[0];
      process.stderr.write(
        `liverseg: the native addon is unavailable (${short}); running inference on onnxruntime-node${ort.version ? ' ' + ort.version : ''} (CPU)\n`,
      );
    }
    return { engine: 'onnxruntime', reason: 'the native addon is unavailable' };
  }
  if (wantsCuda(dev)) return { engine: 'libtorch', reason: 'CUDA runs on LibTorch' };
  if (ort.available) return { engine: 'onnxruntime', reason: 'faster than LibTorch on the CPU' };
  return { engine: 'libtorch', reason: 'onnxruntime-node is not installed' };
}

/** The engine a loaded network runs on. */
export function engineOf(net: SegmentationNet): EngineName {
  return net instanceof OnnxResUNet ? 'onnxruntime' : 'libtorch';
}

/**
 * The ONNX file a bundle carries (`onnx`), when it was exported from the bundle's current weights
 * and its hash checks out; undefined when it carries none or an outdated one (a warning says so).
 */
async function attachedOnnx(jsonPath: string, bundle: ModelBundle): Promise<Uint8Array | undefined> {
  if (!bundle.onnx) return undefined;
  if (bundle.onnxWeightsSha256 !== bundle.weightsSha256) {
    process.stderr.write(
      `liverseg: ${jsonPath}: its ONNX file ${bundle.onnx} was exported from other weights; exporting the current weights in memory instead\n`,
    );
    return undefined;
  }
  return readVerified(fileInside(jsonPath, bundle.onnx, 'onnx'), bundle.onnxSha256, jsonPath);
}

/** Loads a model bundle onto an engine (LibTorch on `device`, or onnxruntime on the CPU). */
export async function loadEngineModel(jsonPath: string, engine: EngineName, device?: string): Promise<PipelineModel> {
  if (engine === 'libtorch') return loadModel(jsonPath, { device });
  const bundle = await readModelBundle(jsonPath);
  const onnx = await attachedOnnx(jsonPath, bundle);
  const weights = onnx ? undefined : await readBundleWeights(jsonPath, bundle);
  try {
    const net = onnx ? await OnnxResUNet.fromOnnx(onnx, bundle.config) : await OnnxResUNet.fromWeights(bundle.config, weights!);
    return { net, bundle, path: nodePath.resolve(jsonPath) };
  } catch (e) {
    // As loadModel does for LibTorch: weights that do not fit the bundle's own architecture make a bad bundle.
    if (e instanceof LiversegError && e.code === 'ERR_MODEL_MISMATCH') {
      throw new LiversegError('ERR_BUNDLE', `${jsonPath}: weights do not fit the architecture in the bundle (${e.message})`, { path: jsonPath, cause: e });
    }
    throw e;
  }
}

/** The memory one 'whole' fine pass may use on the CPU by default. */
export const WHOLE_PASS_BUDGET_BYTES = 4 * 2 ** 30;

/**
 * Measured peak bytes per voxel of one forward pass against nets/config's estimate (512 B per voxel
 * for the default network): onnxruntime with its memory arena peaked at 613 B (5.47 GiB at
 * 336x208x128), LibTorch at about 570 B (4.0 GiB at 192^3). The arena grows in powers of two;
 * without it onnxruntime peaked at 374 B but ran about twice as slow.
 */
const MEASURED_OVER_ESTIMATE = 1.2;

/**
 * The default `maxVoxelsPerPass`: the largest padded region whose forward pass stays under
 * {@link WHOLE_PASS_BUDGET_BYTES} on either engine (about 6.9 M voxels for the default network).
 */
export function defaultMaxVoxelsPerPass(a: ResolvedArchitecture): number {
  const perVoxel = MEASURED_OVER_ESTIMATE * (estimateForwardBytes(a, [1, 1, 1]) - 4 * parameterCount(a));
  return Math.max(1, Math.floor((WHOLE_PASS_BUDGET_BYTES - 4 * parameterCount(a)) / perVoxel));
}

/**
 * For a fine region of `size` voxels ([ni, nj, nk]) and a model whose windows are `window`: the
 * window of a one-pass fine stage (the region, widened to `window` on any axis where it is
 * smaller), or null when the stage should run sliding windows. See {@link FineMode}.
 */
export function wholePassPlan(
  mode: FineMode,
  size: Vec3,
  window: Vec3,
  overlap: number,
  ctx: { architecture: ResolvedArchitecture; onGpu: boolean; maxVoxelsPerPass?: number },
): Vec3 | null {
  if (mode === 'windows') return null;
  const m = 2 ** (ctx.architecture.channels.length - 1);
  const roi = [0, 1, 2].map((a) => Math.max(size[a], window[a])) as Vec3;
  const padded = (v: readonly number[]) => v.reduce((n, s) => n * Math.ceil(s / m) * m, 1);
  if (padded(roi) > (ctx.maxVoxelsPerPass ?? defaultMaxVoxelsPerPass(ctx.architecture))) return null;
  if (mode === 'whole') return roi;
  // auto: on the CPU, where one pass computes fewer voxels than the windows would.
  if (ctx.onGpu) return null;
  return padded(roi) < windowCount(roi, window, overlap) * padded(window) ? roi : null;
}
