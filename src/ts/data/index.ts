/** Data, the public part: MSD datasets, splits, Dataset / CacheDataset / DataLoader, and synthetic CT phantoms. */
export { loadMsdDataset } from './msd';
export type { CaseRecord, MsdDataset, LoadMsdOptions } from './msd';
export { splitCases } from './split';
export type { Split, SplitOptions } from './split';
export { Dataset } from './dataset';
export type { DatasetOptions } from './dataset';
export { CacheDataset } from './cache-dataset';
export type { CacheDatasetOptions, CacheProgress } from './cache-dataset';
export { DataLoader } from './loader';
export type { DataLoaderOptions, EpochOptions } from './loader';
export type { Batch, BatchItem } from './collate';
export { makePhantom } from './phantom';
export type { Phantom, PhantomInfo, PhantomOptions } from './phantom';
export { writePhantomDataset } from './phantom-dataset';
export type { PhantomDatasetOptions, PhantomDatasetResult } from './phantom-dataset';
