/** Model files: bundles, pipelines and checkpoints. */
export { MODEL_FORMAT, PIPELINE_FORMAT, FORMAT_VERSION, STAGES, readModelBundle, bundleKind } from './format';
export type { ModelBundle, ModelBundleMeta, PipelineBundle, Stage, IntensityWindowConfig } from './format';
export { saveModelBundle, readBundleWeights } from './model-bundle';
export { readPipeline, writePipeline } from './pipeline-file';
export type { ResolvedPipelineFile } from './pipeline-file';
export { loadModel, saveModel } from './load-model';
export type { LoadedModel } from './load-model';
export { saveCheckpoint, loadCheckpoint } from './checkpoint';
export type { CheckpointFile, TrainerState } from './checkpoint';
