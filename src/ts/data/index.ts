/** Data: MSD datasets, splits, Dataset / CacheDataset / DataLoader, and synthetic CT phantoms. */
export * from './msd';
export * from './split';
export * from './load-case';
export * from './dataset';
export * from './cache-dataset';
export * from './collate';
export * from './loader';
export * from './seeds';
export { isShared, toShared, shareOutput } from './shared';
export * from './phantom';
export * from './phantom-dataset';
