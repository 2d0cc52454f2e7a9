/**
 * The 3D ResUNet as a JavaScript object over the native model. Every method that computes
 * returns a Promise and runs off the JS thread; calls on one model run one at a time in call
 * order, calls on different models may overlap.
 */
import * as os from 'os';
import { invalidArg, describeValue, LiversegError } from '../errors';
import type { NativeModel, NativeNamedTensor, NativePredictOptions } from '../native/binding';
import type { DistributedContext } from '../native/distributed';
import { createNativeModel } from '../native/model';
import { adopt, NativeArray } from '../native/dtypes';
import { assertBatch, fromNativeBatch, native, reverse3, TensorBatch, toNativeBatch } from '../native/tensors';
import { assertFiniteVoxels } from '../io/voxels';
import { throwIfAborted } from '../errors';
import type { Vec3 } from '../volume';
import { SerialQueue } from '../util/serial-queue';
import {
  estimateForwardBytes,
  formatBytes,
  parameterCount,
  IntensityWindowConfig,
  ModelOptions,
  ResolvedArchitecture,
  ResolvedModelOptions,
  resolveModelOptions,
  SLIDING_WINDOW_DEFAULTS,
} from './config';
import { checkWindowCount } from './sliding-window-plan';

/** A named tensor as saved in weights and optimizer state (shape in tensor order). */
export type NamedTensor = NativeNamedTensor;

/** What `predictVolume` returns: per-channel output over the whole volume, in NIfTI order. */
export interface VolumePrediction<T extends Uint8Array | Float32Array> {
  data: T;
  /** [channels, ni, nj, nk] */
  shape: [number, number, number, number];
}

export interface PredictVolumeOptions {
  /** Window size [ni, nj, nk]; omit (with `sliding: false`) for one pass over the whole volume. */
  roi?: Vec3;
  sliding?: boolean;
  overlap?: number;
  blend?: 'gaussian' | 'constant';
  sigmaScale?: number;
  /** Windows per forward pass. */
  batchSize?: number;
  accumulate?: 'auto' | 'device' | 'cpu';
  mirror?: boolean;
  /** Applied on the device after upload, so raw int16 HU can be passed as they are. */
  intensity?: IntensityWindowConfig;
  /** 'mask' (default: uint8, 1 where sigmoid >= 0.5, MONAI's AsDiscrete(threshold=0.5)), 'probabilities' (sigmoid) or 'logits'. */
  output?: 'mask' | 'probabilities' | 'logits';
  signal?: AbortSignal;
}

/** A single-channel volume in NIfTI order for {@link ResUNet.predictVolume}. */
export interface PredictInput {
  data: NativeArray;
  shape: Vec3;
}

export class ResUNet {
  readonly options: ResolvedModelOptions;
  private readonly queue = new SerialQueue();
  private lr: number;
  private disposed = false;

  private constructor(
    private readonly model: NativeModel,
    options: ResolvedModelOptions,
  ) {
    this.options = options;
    this.lr = options.optimizer.lr;
  }

  /**
   * Builds a model; the initial weights follow from `seed`.
   * @example
   * const net = await ResUNet.create({ channels: [8, 16, 32, 64, 128], device: 'cpu' });
   * const loss = await net.trainStep(images, labels);
   */
  static async create(options: ModelOptions = {}): Promise<ResUNet> {
    const o = resolveModelOptions(options);
    // Weights, gradients and the optimizer's moments: refuse before LibTorch tries to allocate them.
    const paramBytes = 4 * parameterCount(o.architecture);
    if (4 * paramBytes > os.totalmem()) {
      throw new LiversegError(
        'ERR_TORCH_OOM',
        `Out of memory: a network of ${parameterCount(o.architecture)} parameters needs about ${formatBytes(4 * paramBytes)} for weights, gradients and optimizer state; this machine has ${formatBytes(os.totalmem())}`,
      );
    }
    const model = await createNativeModel({
      ...o.architecture,
      device: o.device,
      precision: o.precision,
      seed: o.seed,
      channelsLast: o.channelsLast,
      includeBackground: o.includeBackground,
      optimizer: {
        name: o.optimizer.name,
        lr: o.optimizer.lr,
        beta1: o.optimizer.betas[0],
        beta2: o.optimizer.betas[1],
        eps: o.optimizer.eps,
        weightDecay: o.optimizer.weightDecay,
        gradAveraging: o.optimizer.gradAveraging,
        amsgrad: o.optimizer.amsgrad,
      },
    });
    return new ResUNet(model, o);
  }

  get architecture(): ResolvedArchitecture {
    return this.options.architecture;
  }

  /** The device the model lives on, e.g. 'cpu' or 'cuda:0'. */
  get device(): string {
    return this.live().info().device;
  }

  get parameterCount(): number {
    return this.live().info().parameterCount;
  }

  /** Spatial sizes are padded to a multiple of this inside forward (and cropped back). */
  get sizeMultiple(): number {
    return 2 ** (this.options.architecture.channels.length - 1);
  }

  /** Calls waiting or running on this model. */
  get pending(): number {
    return this.queue.size;
  }

  /** The learning rate the next training step uses. */
  get learningRate(): number {
    return this.lr;
  }

  /**
   * Data-parallel training: takes rank 0's weights, then averages every training step's gradients
   * over the ranks of `context` (each rank passes its own part of the global batch).
   */
  attachDistributed(context: DistributedContext): Promise<void> {
    return this.enqueue((m) => m.attachDistributed(context.native));
  }

  /** Sets the learning rate for the training steps queued after this call. */
  setLearningRate(lr: number): Promise<void> {
    if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) throw invalidArg('lr', `expected a finite number >= 0, got ${describeValue(lr)}`);
    this.lr = lr;
    return this.enqueue(async (m) => m.setLearningRate(lr));
  }

  /** Logits for a batch [B, C, ni, nj, nk] (inference mode). Any spatial size works. */
  async forward(images: TensorBatch<Float32Array>): Promise<TensorBatch<Float32Array>> {
    assertBatch(images, 'images', { float: true, finite: true });
    this.checkChannels(images, 'images', this.architecture.inChannels);
    const out = await this.enqueue((m) => m.forward(toNativeBatch(images)));
    return fromNativeBatch(out) as TensorBatch<Float32Array>;
  }

  /**
   * One optimisation step: forward, Dice loss on the sigmoid, backward, optimizer step.
   * `labels` has the model's output channels; any non-zero label counts as foreground.
   * Resolves with the loss before the step.
   */
  trainStep(images: TensorBatch<Float32Array>, labels: TensorBatch): Promise<number> {
    this.checkPair(images, labels);
    return this.enqueue((m) => m.trainStep(toNativeBatch(images), toNativeBatch(labels)));
  }

  /** Dice per case and channel ([B][C]) of one forward pass; NaN where the ground truth is empty. */
  async evaluate(images: TensorBatch<Float32Array>, labels: TensorBatch): Promise<number[][]> {
    this.checkPair(images, labels);
    const out = await this.enqueue((m) => m.evaluate(toNativeBatch(images), toNativeBatch(labels)));
    const [b, c] = out.shape;
    const data = adopt(out.data);
    return Array.from({ length: b }, (_, i) => Array.from(data.subarray(i * c, (i + 1) * c)));
  }

  /**
   * Whole-volume prediction of one single-channel volume [ni, nj, nk] of any numeric type, by
   * sliding windows (or one pass). The volume is uploaded once; windows are cut, run and blended
   * natively; only the result comes back: a uint8 mask, or float32 probabilities or logits.
   */
  predictVolume(volume: PredictInput, options?: PredictVolumeOptions & { output?: 'mask' }): Promise<VolumePrediction<Uint8Array>>;
  predictVolume(volume: PredictInput, options: PredictVolumeOptions & { output: 'probabilities' | 'logits' }): Promise<VolumePrediction<Float32Array>>;
  async predictVolume(volume: PredictInput, options: PredictVolumeOptions = {}): Promise<VolumePrediction<Uint8Array | Float32Array>> {
    const d = SLIDING_WINDOW_DEFAULTS;
    const sliding = options.sliding ?? true;
    if (sliding && !options.roi) throw invalidArg('roi', 'sliding-window prediction needs a window size [ni, nj, nk]');
    if (this.architecture.inChannels !== 1) throw invalidArg('volume', 'predictVolume supports single-channel models only');
    const nopts: NativePredictOptions = {
      sliding,
      overlap: options.overlap ?? d.overlap,
      blend: options.blend ?? d.blend,
      sigmaScale: options.sigmaScale ?? d.sigmaScale,
      batchSize: options.batchSize ?? d.batchSize,
      accumulate: options.accumulate ?? d.accumulate,
      deviceLimitBytes: d.deviceLimitBytes,
      mirror: options.mirror ?? d.mirror,
      output: options.output ?? 'mask',
    };
    if (sliding) nopts.roi = reverse3(options.roi!);
    if (options.intensity) nopts.intensity = { ...options.intensity };
    if (!(nopts.overlap >= 0 && nopts.overlap < 1)) throw invalidArg('overlap', `expected a number in [0, 1), got ${describeValue(options.overlap)}`);
    if (!Number.isInteger(nopts.batchSize) || nopts.batchSize < 1)
      throw invalidArg('batchSize', `expected a positive integer, got ${describeValue(options.batchSize)}`);
    if (sliding) checkWindowCount(volume.shape, options.roi!, nopts.overlap, 'overlap');
    this.checkPassMemory(sliding ? [options.roi![0], options.roi![1], options.roi![2] * nopts.batchSize] : volume.shape);
    await assertFiniteVoxels(volume.data, 'volume.data');
    // The native work thread reads the flag while the call runs: it must live in memory that cannot be detached.
    const cancel = new Int32Array(new SharedArrayBuffer(4));
    const signal = options.signal;
    const onAbort = () => {
      cancel[0] = 1;
    };
    throwIfAborted(signal, 'predictVolume()');
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const out = await this.enqueue((m) => m.predictVolume({ data: volume.data, shape: reverse3(volume.shape) }, nopts, cancel));
      const s = out.shape;
      return { data: adopt(out.data) as Uint8Array | Float32Array, shape: [s[0], s[3], s[2], s[1]] };
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Every parameter and buffer, copied to the CPU, in a stable order. */
  async getWeights(): Promise<NamedTensor[]> {
    return (await this.enqueue((m) => m.getWeights())).map((t) => ({ ...t, data: adopt(t.data) }));
  }

  /** Loads weights; every tensor of the architecture must be present with its shape. */
  setWeights(weights: NamedTensor[]): Promise<void> {
    return this.enqueue((m) => m.setWeights(weights));
  }

  async getOptimizerState(): Promise<NamedTensor[]> {
    return (await this.enqueue((m) => m.getOptimizerState())).map((t) => ({ ...t, data: adopt(t.data) }));
  }

  setOptimizerState(state: NamedTensor[]): Promise<void> {
    return this.enqueue((m) => m.setOptimizerState(state));
  }

  /** Device memory statistics (bytes; zeros on the CPU). */
  memoryStats(resetPeak = false): { allocated: number; peakAllocated: number; reserved: number } {
    return this.live().memoryStats(resetPeak);
  }

  /** Frees the native model once queued calls finish. Later calls reject. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    await this.queue.run(async () => {
      this.model.dispose();
    });
    this.disposed = true;
  }

  /** On the CPU, refuses a pass whose activations could never fit in memory (LibTorch would fail only after minutes of swapping, or with its allocator's words). */
  private checkPassMemory(size: Vec3): void {
    if (!this.device.startsWith('cpu')) return;
    const need = estimateForwardBytes(this.architecture, size);
    if (need > os.totalmem()) {
      throw new LiversegError(
        'ERR_TORCH_OOM',
        `Out of memory: one forward pass over ${size.join('x')} voxels needs about ${formatBytes(need)}; this machine has ${formatBytes(os.totalmem())}`,
      );
    }
  }

  private live(): NativeModel {
    if (this.disposed) throw invalidArg('model', 'this model was disposed');
    return this.model;
  }

  private enqueue<T>(job: (m: NativeModel) => Promise<T>): Promise<T> {
    const m = this.live();
    return this.queue.run(() => native(() => job(m)));
  }

  private checkChannels(b: TensorBatch, name: string, expected: number): void {
    if (b.shape[1] !== expected) {
      throw invalidArg(`${name}.shape`, `has ${b.shape[1]} channels but the model expects ${expected}`, 'ERR_SHAPE_MISMATCH');
    }
  }

  private checkPair(images: TensorBatch<Float32Array>, labels: TensorBatch): void {
    assertBatch(images, 'images', { float: true, finite: true });
    assertBatch(labels, 'labels', { finite: true });
    this.checkChannels(images, 'images', this.architecture.inChannels);
    this.checkChannels(labels, 'labels', this.architecture.outChannels);
    const a = images.shape,
      b = labels.shape;
    if (a[0] !== b[0] || a[2] !== b[2] || a[3] !== b[3] || a[4] !== b[4]) {
      throw invalidArg(
        'labels.shape',
        `${describeValue(b)} does not match images ${describeValue(a)} (batch and spatial sizes must agree)`,
        'ERR_SHAPE_MISMATCH',
      );
    }
  }
}
