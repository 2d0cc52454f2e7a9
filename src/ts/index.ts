/**
 * liverseg: liver segmentation in CT for Node.js. This file is the public API, listed name by
 * name; tests/api-surface.test.ts compares it with tests/api-surface.json, so every change to
 * what users can import shows up in review.
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

// files
export { loadVolume, saveVolume, decodeNifti, encodeNifti, maskLike, toFloat32, countNonFinite, readSafetensors, writeSafetensors } from './io';
export type { LoadVolumeOptions, DecodeNiftiOptions, SaveVolumeOptions, SafetensorsDtype, SafetensorsTensor, SafetensorsFile, TensorArray } from './io';
export type { VolumeSource } from './io/load-volume';
export type { DicomDescription, DicomSliceInfo } from './volume';

// DICOM
export { loadDicomSeries, listDicomSeries, saveDicomSeg, encodeDicomSeg, loadDicomSeg, LIVER_CODE, ANATOMICAL_STRUCTURE_CODE } from './io/dicom';
export type {
  LoadDicomSeriesOptions,
  DicomSeriesInfo,
  DicomInventory,
  DicomSegOptions,
  DicomSegResult,
  LoadDicomSegOptions,
  DicomSegInfo,
  DicomSource,
  DicomLimits,
  SkippedFile,
  Code as DicomCode,
} from './io/dicom';

// geometry
export { axcodes, toCanonical, fromCanonical, resampleToSpacing, resampleToShape, resampleLike, boundingBox, mapBoxToFull } from './geometry';
export type { CanonicalTransform, Box, ResampleOptions, InterpolationMode } from './geometry';

// data and transforms
export { loadMsdDataset, splitCases, Dataset, CacheDataset, DataLoader, makePhantom, writePhantomDataset } from './data';
export type {
  CaseRecord,
  MsdDataset,
  LoadMsdOptions,
  Split,
  SplitOptions,
  DatasetOptions,
  CacheDatasetOptions,
  CacheProgress,
  DataLoaderOptions,
  EpochOptions,
  Batch,
  BatchItem,
  Phantom,
  PhantomInfo,
  PhantomOptions,
  PhantomDatasetOptions,
  PhantomDatasetResult,
} from './data';
export {
  MapTransform,
  Compose,
  registerTransform,
  registeredTransforms,
  transformFromSpec,
  scaleIntensityRange,
  ScaleIntensityRanged,
  spatialPad,
  SpatialPadd,
  randCropByPosNegLabel,
  RandCropByPosNegLabeld,
  resize,
  Resized,
  cropForeground,
  foregroundBox,
  pasteBack,
  CropForegroundd,
  orientation,
  Orientationd,
  spacing,
  Spacingd,
  flip,
  randFlip,
  RandFlipd,
  rotate90,
  randRotate90,
  RandRotate90d,
  randAffine,
  RandAffined,
  addGaussianNoise,
  randGaussianNoise,
  RandGaussianNoised,
  scaleIntensity,
  randScaleIntensity,
  RandScaleIntensityd,
  shiftIntensity,
  randShiftIntensity,
  RandShiftIntensityd,
  castToFloat32,
  CastToFloat32d,
  ensureBinaryLabel,
  EnsureBinaryLabeld,
} from './transforms';
export type {
  Sample,
  Transform,
  TransformOutput,
  TransformSpec,
  KeysOptions,
  TransformFactory,
  ScaleIntensityRangeOptions,
  ScaleIntensityRangedOptions,
  SpatialPadOptions,
  SpatialPaddOptions,
  RandCropByPosNegLabelOptions,
  RandCropByPosNegLabeldOptions,
  ResizeMode,
  ResizeOptions,
  ResizedOptions,
  CropForegroundOptions,
  CropForegrounddOptions,
  StoredBox,
  OrientationdOptions,
  SpacingMode,
  SpacingOptions,
  SpacingdOptions,
  RandFlipOptions,
  RandFlipdOptions,
  RandRotate90Options,
  RandRotate90dOptions,
  AffineParams,
  RandAffineOptions,
  RandAffinedOptions,
  AffineInterpolationMode,
  RandGaussianNoiseOptions,
  RandGaussianNoisedOptions,
  RandScaleIntensityOptions,
  RandScaleIntensitydOptions,
  RandShiftIntensityOptions,
  RandShiftIntensitydOptions,
  CastToFloat32dOptions,
  EnsureBinaryLabelOptions,
  EnsureBinaryLabeldOptions,
} from './transforms';

// native backend and networks
export { backend, nativeAvailable } from './native/loader';
export type { NativeBackend as Backend } from './native/binding';
export { setNumThreads, manualSeed } from './native/runtime';
export { DistributedContext, distributedFromEnv } from './native/distributed';
export type { DistributedOptions } from './native/distributed';
export { largestComponent, labelComponents } from './native/ops';
export type { Connectivity } from './native/ops';
export type { TensorBatch } from './native/tensors';
export { ResUNet } from './nets/resunet';
export type { PredictVolumeOptions, PredictInput, VolumePrediction, NamedTensor } from './nets/resunet';
export { parameterCount, DEFAULT_INTENSITY } from './nets/config';
export type { ModelOptions, ResUNetConfig, OptimizerConfig, IntensityWindowConfig } from './nets/config';
export { OnnxResUNet } from './nets/backends/onnx-net';
export type { OnnxNetOptions } from './nets/backends/onnx-net';
export { onnxruntimeAvailability } from './nets/backends/onnxruntime';
export type { OrtAvailability } from './nets/backends/onnxruntime';
export type { EngineName, EngineOption, SegmentationNet } from './nets/backends/types';

// metrics
export { maskDice } from './metrics/dice';
export { liverStats } from './metrics/liver-stats';
export type { LiverStats, HuStats, ScanFace } from './metrics/liver-stats';

// model files
export { readModelBundle, readPipeline, writePipeline, loadModel, saveModel } from './bundle';
export type { ModelBundle, ModelBundleMeta, PipelineBundle, Stage, LoadedModel } from './bundle';

// inference
export { segment } from './inferers/segment';
export type { SegmentOptions, Mask, StageTimings } from './inferers/segment';
export { renderPreview, renderPreviewImage } from './inferers/preview';
export type { PreviewOptions, PreviewImage, PreviewPanel, PreviewView } from './inferers/preview';
export { loadPipeline, clearPipelineCache } from './inferers/pipeline';
export type { LoadedPipeline, LoadPipelineOptions } from './inferers/pipeline';
export { resolveEngine } from './inferers/engine';
export type { EngineDecision, FineMode, PipelineModel } from './inferers/engine';
export { exportOnnx, attachOnnx } from './inferers/export-onnx';
export type { ExportOnnxOptions, ExportOnnxResult, OnnxExportSource } from './inferers/export-onnx';

// training
export { train } from './engines/trainer';
export type { TrainOptions, TrainResult, StageResult, EpochReport } from './engines/trainer';
export { defaultTrainConfig, resolveTrainConfig, trainConfigSchema } from './engines/config';
export type { TrainConfig } from './engines/config';
export { cosineRestarts, warmupCosine, makeSchedule } from './engines/schedulers';
export type { LrSchedule, SchedulerConfig } from './engines/schedulers';
export { prepareDatasets } from './engines/prepare';
export type { PrepareOptions, PrepareResult } from './engines/prepare';

// service (HTTP API, queue workers); fastify and BullMQ load on first use
export { createServer, startWorker } from './serve';
export type {
  LiversegServer,
  LiversegWorker,
  ServerOptions,
  WorkerOptions,
  RunnerOptions,
  StoreOptions,
  QueueConnectionOptions,
  JobView,
  JobState,
  JobProgress,
  JobOutcome,
  JobError,
  JobOptions,
  ResultFile,
} from './serve';
