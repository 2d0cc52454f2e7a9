/**
 * The raw addon, typed. Shapes here are in tensor order ([B, C, D, H, W] or [D, H, W] with
 * D = nk, H = nj, W = ni): the public API in NIfTI order lives in nets/ and inferers/.
 * Only src/ts/native/ and the classes of nets/ that wrap a native object use these types;
 * loader.ts is the only module that loads the addon.
 *
 * Typed arrays passed in: one over an ArrayBuffer is copied into memory the addon owns before the
 * call returns (so detaching or reusing the buffer afterwards cannot touch the call); one over a
 * SharedArrayBuffer is read in place, without a copy, until the call settles (it cannot be
 * detached; do not write to it meanwhile).
 */
import type { NativeArray } from './dtypes';

export type { NativeArray };

export interface NativeTensor<T extends NativeArray = NativeArray> {
  data: T;
  shape: number[];
}

export interface NativeNamedTensor extends NativeTensor {
  name: string;
}

export interface NativeOptimizerConfig {
  name: 'novograd' | 'adam';
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  gradAveraging: boolean;
  amsgrad: boolean;
}

export interface NativeModelConfig {
  inChannels: number;
  outChannels: number;
  channels: number[];
  block: 'residual' | 'plain';
  dropout: number;
  device: string;
  precision: 'auto' | 'off' | 'bf16' | 'fp16';
  seed: number;
  channelsLast: boolean;
  /**
   * MONAI's `include_background` for the Dice loss of `trainStep` and the Dice metric of
   * `evaluate` (MONAI's default is true; the seed used false): false leaves channel 0 out when the
   * model has several output channels (evaluate then returns [B, C - 1]); with one channel it is
   * ignored, as in MONAI. Required.
   */
  includeBackground: boolean;
  optimizer: NativeOptimizerConfig;
}

export interface NativeIntensityWindow {
  aMin: number;
  aMax: number;
  bMin: number;
  bMax: number;
  clip: boolean;
}

export interface NativePredictOptions {
  sliding: boolean;
  roi?: [number, number, number];
  overlap: number;
  blend: 'gaussian' | 'constant';
  sigmaScale: number;
  batchSize: number;
  accumulate: 'auto' | 'device' | 'cpu';
  deviceLimitBytes: number;
  mirror: boolean;
  intensity?: NativeIntensityWindow;
  /** 'mask': uint8, 1 where sigmoid(logit) >= 0.5 in float32 (MONAI's AsDiscrete(threshold=0.5); logit 0 counts). */
  output: 'mask' | 'probabilities' | 'logits';
}

export interface NativeModelInfo {
  device: string;
  parameterCount: number;
  expectedParameterCount: number;
  sizeMultiple: number;
  optimizer: string;
}

export interface NativeMemoryStats {
  allocated: number;
  peakAllocated: number;
  reserved: number;
}

export interface NativeModel {
  forward(images: NativeTensor<Float32Array>): Promise<NativeTensor<Float32Array>>;
  trainStep(images: NativeTensor<Float32Array>, labels: NativeTensor): Promise<number>;
  evaluate(images: NativeTensor<Float32Array>, labels: NativeTensor): Promise<NativeTensor<Float64Array>>;
  /**
   * `cancel`: an Int32Array of length 1 over a SharedArrayBuffer (`new Int32Array(new SharedArrayBuffer(4))`),
   * set to non-zero to cancel between batches of windows; one over an ArrayBuffer is ERR_INVALID_ARG.
   * More windows than 100,000 (from overlap and roi) is ERR_INVALID_ARG, before anything runs.
   */
  predictVolume(volume: NativeTensor, options: NativePredictOptions, cancel?: Int32Array): Promise<NativeTensor>;
  getWeights(): Promise<NativeNamedTensor[]>;
  setWeights(weights: NativeNamedTensor[]): Promise<void>;
  getOptimizerState(): Promise<NativeNamedTensor[]>;
  setOptimizerState(state: NativeNamedTensor[]): Promise<void>;
  getLearningRate(): number;
  setLearningRate(lr: number): void;
  info(): NativeModelInfo;
  /**
   * Data-parallel training: broadcasts rank 0's weights to every rank, then every `trainStep`
   * averages its gradients over the ranks (bucketed all-reduce started from autograd hooks).
   * CPU models only in this build (Gloo); ERR_DISTRIBUTED on a CUDA model.
   */
  attachDistributed(context: NativeDistributed): Promise<void>;
  memoryStats(resetPeak?: boolean): NativeMemoryStats;
  dispose(): void;
}

export interface NativeBackend {
  torchVersion: string;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  builtWithCuda: boolean;
  mkldnn: boolean;
  threads: number;
  defaultDevice: string;
}

/**
 * `largestComponent`'s result, MONAI's KeepLargestConnectedComponent (independent=True): each
 * non-zero value keeps its own largest component and its value; on a tie, the component MONAI
 * keeps (the one met last in a C-order scan of MONAI's [i, j, k] array).
 */
export interface NativeComponents extends NativeTensor<Uint8Array> {
  /** Components of all values together, before. */
  components: number;
  /** Non-zero voxels left. */
  keptVoxels: number;
  /** Non-zero voxels before. */
  totalVoxels: number;
}

/** Every field required: TypeScript (native/distributed.ts) resolves them. */
export interface NativeDistributedOptions {
  rank: number;
  worldSize: number;
  /** The master's host; rank 0 serves the TCPStore rendezvous on `port` there. */
  host: string;
  port: number;
  /** Rendezvous and every collective fail with ERR_DISTRIBUTED after this long. */
  timeoutMs: number;
  /** Gradient bytes per all-reduce bucket. */
  bucketBytes: number;
}

/** A c10d process group (TCPStore + Gloo). Collectives must be called in the same order on every rank. */
export interface NativeDistributed {
  readonly rank: number;
  readonly worldSize: number;
  /** Sum over the ranks (float64); ERR_DISTRIBUTED when a peer is gone or the timeout passes. */
  allReduceSum(values: NativeTensor<Float64Array>): Promise<NativeTensor<Float64Array>>;
  barrier(): Promise<void>;
  /** Drops this handle's reference; models attached to it keep theirs. */
  close(): void;
}

export interface NativeBinding {
  createModel(config: NativeModelConfig): Promise<NativeModel>;
  /** Rendezvous of `worldSize` ranks; ERR_DISTRIBUTED when they do not all join within the timeout. */
  createDistributed(options: NativeDistributedOptions): Promise<NativeDistributed>;
  /** False when the addon was built without c10d (no Gloo headers). */
  distributedAvailable: boolean;
  backend(): NativeBackend;
  setNumThreads(n: number): void;
  manualSeed(seed: number): void;
  resize(volume: NativeTensor, size: [number, number, number], mode: 'area' | 'nearest' | 'linear'): Promise<NativeTensor>;
  largestComponent(mask: NativeTensor<Uint8Array>, connectivity: 6 | 18 | 26): Promise<NativeComponents>;
  labelComponents(mask: NativeTensor<Uint8Array>, connectivity: 6 | 18 | 26): Promise<NativeTensor<Int32Array> & { sizes: number[] }>;
}

/**
 * Test hooks: the addon also exports these, underscore-prefixed, so tests can check the native
 * math directly (`loadBinding() as NativeBinding & NativeTestHooks`). Not part of the binding
 * the library uses.
 */
export interface NativeTestHooks {
  _diceLoss(logits: NativeTensor, target: NativeTensor, includeBackground: boolean): Promise<number>;
  _diceMetric(logits: NativeTensor, target: NativeTensor, includeBackground: boolean): Promise<NativeTensor<Float64Array>>;
  /** The sliding window's Gaussian weights for a window [D, H, W] (MONAI's compute_importance_map). */
  _importanceMap(roi: [number, number, number], sigmaScale: number): NativeTensor<Float32Array>;
  /** Whether the addon reads this array in place (SharedArrayBuffer) rather than copying it (ArrayBuffer). */
  _isZeroCopy(array: ArrayBufferView): boolean;
  /** Runs the optimizer on given tensors (float64), one step per gradient set. `config` is complete, as createModel's. */
  _optimizerSteps(
    config: NativeOptimizerConfig,
    params: NativeNamedTensor[],
    grads: NativeNamedTensor[][],
    lrs: number[],
  ): Promise<{ params: NativeNamedTensor[]; state: NativeNamedTensor[] }>;
}
