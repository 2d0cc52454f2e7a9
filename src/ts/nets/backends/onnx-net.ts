/**
 * The 3D ResUNet on onnxruntime-node: the same `forward` and `predictVolume` as the LibTorch-backed
 * ResUNet, without the addon. The graph is the ONNX export of the network's weights (built in
 * memory, or read from a bundle's .onnx); the session runs on a worker thread (onnxruntime.ts);
 * sliding windows, Gaussian blending, intensity scaling, mirroring and thresholding run here in
 * TypeScript by the same rules as the addon (sliding-window.ts), so the masks agree.
 */
import * as os from 'os';
import { describeValue, invalidArg, LiversegError, throwIfAborted } from '../../errors';
import { assertFiniteVoxels } from '../../io/voxels';
import { isNativeArray } from '../../native/dtypes';
import type { NativeNamedTensor } from '../../native/binding';
import { assertBatch, reverse3, TensorBatch } from '../../native/tensors';
import { SerialQueue } from '../../util/serial-queue';
import type { Vec3 } from '../../volume';
import {
  estimateForwardBytes,
  formatBytes,
  IntensityWindowConfig,
  parameterCount,
  ResolvedArchitecture,
  resolveArchitecture,
  ResUNetConfig,
  SLIDING_WINDOW_DEFAULTS,
} from '../config';
import { encodeResUNetOnnx } from '../onnx/resunet-graph';
import type { PredictInput, PredictVolumeOptions, VolumePrediction } from '../resunet';
import { checkWindowCount } from '../sliding-window-plan';
import { OrtSession, OrtSessionOptions } from './onnxruntime';
import { slidingWindowInference } from './sliding-window';
import type { SegmentationNet } from './types';

export type OnnxNetOptions = OrtSessionOptions;

/** The addon's intensity scaling, in float32 step by step: (x - aMin) * ((bMax - bMin) / (aMax - aMin)) + bMin, then clamped. */
export function scaleIntensity(data: ArrayLike<number>, w: IntensityWindowConfig | undefined): Float32Array {
  const out = Float32Array.from(data);
  if (!w) return out;
  const f = Math.fround;
  const aMin = f(w.aMin),
    scale = f((w.bMax - w.bMin) / (w.aMax - w.aMin)),
    bMin = f(w.bMin);
  const lo = f(Math.min(w.bMin, w.bMax)),
    hi = f(Math.max(w.bMin, w.bMax));
  for (let p = 0; p < out.length; p++) {
    let y = f(f(f(out[p] - aMin) * scale) + bMin);
    if (w.clip) y = y < lo ? lo : y > hi ? hi : y;
    out[p] = y;
  }
  return out;
}

/** Flips a [n, c, D, H, W] array along the given tensor axes (2, 3, 4); returns a new array. */
export function flipBatch(x: Float32Array, dims: readonly number[], n: number, c: number, size: Vec3): Float32Array {
  const [D, H, W] = size;
  const fz = dims.includes(2),
    fy = dims.includes(3),
    fx = dims.includes(4);
  const out = new Float32Array(x.length);
  const vol = D * H * W;
  for (let b = 0; b < n * c; b++) {
    const base = b * vol;
    for (let z = 0; z < D; z++) {
      const sz = fz ? D - 1 - z : z;
      for (let y = 0; y < H; y++) {
        const sy = fy ? H - 1 - y : y;
        const src = base + (sz * H + sy) * W;
        const dst = base + (z * H + y) * W;
        if (fx) for (let t = 0; t < W; t++) out[dst + t] = x[src + W - 1 - t];
        else out.set(x.subarray(src, src + W), dst);
      }
    }
  }
  return out;
}

const MIRROR_FLIPS: readonly number[][] = [[2], [3], [4], [2, 3], [2, 4], [3, 4], [2, 3, 4]];

export class OnnxResUNet implements SegmentationNet {
  readonly engine = 'onnxruntime' as const;
  readonly device = 'cpu';
  readonly architecture: ResolvedArchitecture;
  private readonly queue = new SerialQueue();
  private disposed = false;

  private constructor(
    private readonly session: OrtSession,
    architecture: ResolvedArchitecture,
  ) {
    this.architecture = architecture;
  }

  /** From an ONNX file's bytes (liverseg's export of a network of this architecture). */
  static async fromOnnx(model: Uint8Array, architecture: ResUNetConfig, options: OnnxNetOptions = {}): Promise<OnnxResUNet> {
    const arch = resolveArchitecture(architecture);
    return new OnnxResUNet(await OrtSession.create(model, options), arch);
  }

  /**
   * From named weights (ResUNet.getWeights() or a bundle's safetensors): exports the graph in
   * memory, then starts a session.
   * @example
   * const net = await OnnxResUNet.fromWeights(bundle.config, await readBundleWeights(path, bundle));
   */
  static async fromWeights(architecture: ResUNetConfig, weights: readonly NativeNamedTensor[], options: OnnxNetOptions = {}): Promise<OnnxResUNet> {
    const arch = resolveArchitecture(architecture);
    return OnnxResUNet.fromOnnx(encodeResUNetOnnx(arch, weights), arch, options);
  }

  /** Spatial sizes are padded to a multiple of this inside the graph (and cropped back). */
  get sizeMultiple(): number {
    return 2 ** (this.architecture.channels.length - 1);
  }

  get parameterCount(): number {
    return parameterCount(this.architecture);
  }

  /** onnxruntime's intra-op threads. */
  get threads(): number {
    return this.session.threads;
  }

  /** Calls waiting or running on this model. */
  get pending(): number {
    return this.queue.size;
  }

  /** Logits for a batch [B, C, ni, nj, nk] (NIfTI order, like ResUNet.forward). Any spatial size works. */
  async forward(images: TensorBatch<Float32Array>): Promise<TensorBatch<Float32Array>> {
    assertBatch(images, 'images', { float: true, finite: true });
    const [b, c, ni, nj, nk] = images.shape;
    if (c !== this.architecture.inChannels) {
      throw invalidArg('images.shape', `has ${c} channels but the model expects ${this.architecture.inChannels}`, 'ERR_SHAPE_MISMATCH');
    }
    this.checkPassMemory([ni, nj, nk * b]);
    const out = await this.enqueue(() => this.session.run(images.data.slice(), [b, c, nk, nj, ni]));
    return { data: out.data, shape: [b, out.dims[1], ni, nj, nk] };
  }

  /** Whole-volume prediction of one single-channel volume [ni, nj, nk], by sliding windows or one pass; see ResUNet.predictVolume. */
  predictVolume(volume: PredictInput, options?: PredictVolumeOptions & { output?: 'mask' }): Promise<VolumePrediction<Uint8Array>>;
  predictVolume(volume: PredictInput, options: PredictVolumeOptions & { output: 'probabilities' | 'logits' }): Promise<VolumePrediction<Float32Array>>;
  async predictVolume(volume: PredictInput, options: PredictVolumeOptions = {}): Promise<VolumePrediction<Uint8Array | Float32Array>> {
    const d = SLIDING_WINDOW_DEFAULTS;
    const sliding = options.sliding ?? true;
    if (sliding && !options.roi) throw invalidArg('roi', 'sliding-window prediction needs a window size [ni, nj, nk]');
    if (this.architecture.inChannels !== 1) throw invalidArg('volume', 'predictVolume supports single-channel models only');
    if (volume === null || typeof volume !== 'object' || !isNativeArray(volume.data))
      throw invalidArg('volume.data', `expected a typed array, got ${describeValue(volume?.data)}`);
    const shape = volume.shape;
    if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((s) => Number.isInteger(s) && s > 0)) {
      throw invalidArg('volume.shape', `expected [ni, nj, nk] (3 positive integers), got ${describeValue(shape)}`, 'ERR_SHAPE_MISMATCH');
    }
    if (volume.data.length !== shape[0] * shape[1] * shape[2]) {
      throw invalidArg(
        'volume.data',
        `has ${volume.data.length} elements but shape ${describeValue(shape)} needs ${shape[0] * shape[1] * shape[2]}`,
        'ERR_SHAPE_MISMATCH',
      );
    }
    const overlap = options.overlap ?? d.overlap;
    const batchSize = options.batchSize ?? d.batchSize;
    const blend = options.blend ?? d.blend;
    const sigmaScale = options.sigmaScale ?? d.sigmaScale;
    const mirror = options.mirror ?? d.mirror;
    const output = options.output ?? 'mask';
    if (!(overlap >= 0 && overlap < 1)) throw invalidArg('overlap', `expected a number in [0, 1), got ${describeValue(options.overlap)}`);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw invalidArg('batchSize', `expected a positive integer, got ${describeValue(options.batchSize)}`);
    if (blend !== 'gaussian' && blend !== 'constant') throw invalidArg('blend', `expected 'gaussian' or 'constant', got ${describeValue(blend)}`);
    if (!['mask', 'probabilities', 'logits'].includes(output))
      throw invalidArg('output', `expected 'mask', 'probabilities' or 'logits', got ${describeValue(output)}`);
    if (sliding) checkWindowCount(shape, options.roi!, overlap, 'overlap');
    this.checkPassMemory(sliding ? [options.roi![0], options.roi![1], options.roi![2] * batchSize] : shape);
    await assertFiniteVoxels(volume.data, 'volume.data');
    const signal = options.signal;
    throwIfAborted(signal, 'predictVolume()');

    return this.enqueue(async () => {
      const size = reverse3(shape);
      const input = scaleIntensity(volume.data, options.intensity);
      const predict = async (batch: Float32Array, n: number, box: Vec3): Promise<{ data: Float32Array; channels: number }> => {
        const dims = [n, 1, ...box];
        if (!mirror) {
          const r = await this.session.run(batch, dims);
          return { data: r.data, channels: r.dims[1] };
        }
        // As the addon: the plain pass, then the seven flips (each flipped back), summed in float32, divided by 8.
        const flipped = MIRROR_FLIPS.map((f) => flipBatch(batch, f, n, 1, box));
        const first = await this.session.run(batch, dims);
        const channels = first.dims[1];
        const sum = first.data;
        for (let f = 0; f < MIRROR_FLIPS.length; f++) {
          throwIfAborted(signal, 'predictVolume()');
          const r = await this.session.run(flipped[f], dims);
          const back = flipBatch(r.data, MIRROR_FLIPS[f], n, channels, box);
          for (let p = 0; p < sum.length; p++) sum[p] += back[p];
        }
        for (let p = 0; p < sum.length; p++) sum[p] /= MIRROR_FLIPS.length + 1;
        return { data: sum, channels };
      };
      const out = sliding
        ? await slidingWindowInference(input, size, predict, { roi: reverse3(options.roi!), overlap, blend, sigmaScale, batchSize, signal })
        : await predict(input, 1, size);
      throwIfAborted(signal, 'predictVolume()');
      const s: [number, number, number, number] = [out.channels, shape[0], shape[1], shape[2]];
      if (output === 'logits') return { data: out.data, shape: s };
      if (output === 'probabilities') {
        const p = out.data;
        for (let i = 0; i < p.length; i++) p[i] = 1 / (1 + Math.exp(-p[i]));
        return { data: p, shape: s };
      }
      // MONAI's AsDiscrete(threshold=0.5) on the float32 sigmoid, as the addon (logit 0 counts).
      const m = new Uint8Array(out.data.length);
      for (let i = 0; i < m.length; i++) m[i] = Math.fround(1 / (1 + Math.exp(-out.data[i]))) >= 0.5 ? 1 : 0;
      return { data: m, shape: s };
    });
  }

  /** onnxruntime does not report its arena: zeros, as LibTorch's CPU does. */
  memoryStats(_resetPeak = false): { allocated: number; peakAllocated: number; reserved: number } {
    return { allocated: 0, peakAllocated: 0, reserved: 0 };
  }

  /** Ends the session's worker once queued calls finish. Later calls reject. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.queue.run(() => this.session.close());
  }

  private checkPassMemory(size: Vec3): void {
    const need = estimateForwardBytes(this.architecture, size);
    if (need > os.totalmem()) {
      throw new LiversegError(
        'ERR_TORCH_OOM',
        `Out of memory: one forward pass over ${size.join('x')} voxels needs about ${formatBytes(need)}; this machine has ${formatBytes(os.totalmem())}`,
      );
    }
  }

  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    if (this.disposed) return Promise.reject(invalidArg('model', 'this model was disposed'));
    return this.queue.run(job);
  }
}
