/**
 * What segment() needs of a network, whichever engine runs it: the LibTorch-backed ResUNet
 * (nets/resunet.ts) and the onnxruntime-backed OnnxResUNet (onnx-net.ts) both fit.
 */
import type { ResolvedArchitecture } from '../config';
import type { PredictInput, PredictVolumeOptions, VolumePrediction } from '../resunet';

/** The inference engines: LibTorch through the addon, or onnxruntime-node on an exported graph. */
export type EngineName = 'libtorch' | 'onnxruntime';
/** What a caller asks for: an engine, or 'auto' (see resolveEngine in inferers/engine.ts). */
export type EngineOption = 'auto' | EngineName;
export const ENGINE_OPTIONS: readonly EngineOption[] = ['auto', 'libtorch', 'onnxruntime'];

/** A network that predicts whole volumes: what a loaded pipeline's models are. */
export interface SegmentationNet {
  /** 'cpu', 'cuda:0', ... */
  readonly device: string;
  readonly architecture: ResolvedArchitecture;
  predictVolume(volume: PredictInput, options?: PredictVolumeOptions & { output?: 'mask' }): Promise<VolumePrediction<Uint8Array>>;
  predictVolume(volume: PredictInput, options: PredictVolumeOptions & { output: 'probabilities' | 'logits' }): Promise<VolumePrediction<Float32Array>>;
  /** Device memory statistics in bytes (zeros where the engine does not report them). */
  memoryStats(resetPeak?: boolean): { allocated: number; peakAllocated: number; reserved: number };
  dispose(): Promise<void>;
}
