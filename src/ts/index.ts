/**
 * liverseg: liver segmentation in CT for Node.js.
 *
 * @example
 * import { segment, loadVolume, saveVolume } from 'liverseg';
 * const mask = await segment(await loadVolume('ct.nii.gz'), { model: 'models/pipeline.json' });
 * await saveVolume('liver.nii.gz', mask);
 */
export { LiversegError, ERROR_CODES, isLiversegError } from './errors';
export type { LiversegErrorCode } from './errors';
export type { Volume, VoxelArray, Vec3, Affine, NiftiGeometry } from './volume';
export { assertVolume, identityAffine, withData } from './volume';
export { Rng } from './util/rng';

// files and geometry
export {
  loadVolume,
  saveVolume,
  maskLike,
  toFloat32,
  countNonFinite,
  axcodes,
  toCanonical,
  fromCanonical,
  resampleToSpacing,
  resampleToShape,
  resampleLike,
  readSafetensors,
  writeSafetensors,
} from './io';
export type { LoadVolumeOptions, SaveVolumeOptions, CanonicalTransform } from './io';
export { readModelBundle, readPipeline, writePipeline } from './io/bundle';
export type { ModelBundle, PipelineBundle, IntensityWindowConfig, Stage } from './io/bundle';

// networks
export { ResUNet } from './nets/resunet';
export type { PredictVolumeOptions, VolumePrediction, NamedTensor } from './nets/resunet';
export { parameterCount } from './nets/config';
export type { ModelOptions, ResUNetConfig, OptimizerConfig } from './nets/config';
export { loadModel, saveModel } from './nets/bundle-model';
export type { LoadedModel } from './nets/bundle-model';
export type { Batch as TensorBatch } from './native/tensors';
export { backend } from './native/loader';
export type { NativeBackend as Backend } from './native/binding';
export { setNumThreads, manualSeed } from './native/runtime';

// data and transforms
export * from './data';
export * from './transforms';

// training
export { train } from './engines/trainer';
export type { TrainOptions, TrainResult, StageResult, EpochReport } from './engines/trainer';
export { defaultTrainConfig, resolveTrainConfig, trainConfigSchema } from './engines/config';
export type { TrainConfig } from './engines/config';
export { cosineRestarts, warmupCosine, makeSchedule } from './engines/schedulers';
export type { LrSchedule, SchedulerConfig } from './engines/schedulers';
export { prepareDatasets } from './data/prepare';
export type { PrepareOptions, PrepareResult } from './data/prepare';

// inference
export { segment, mapBoxToFull, maskBox } from './inferers/segment';
export type { SegmentOptions, Mask, StageTimings } from './inferers/segment';
export { loadPipeline, clearPipelineCache } from './inferers/pipeline';
export type { LoadedPipeline } from './inferers/pipeline';
export { largestComponent, labelComponents } from './inferers/native-ops';
export { maskDice } from './inferers/dice';
