/** Messages between a DataLoader and its worker threads (structured-clone friendly). */
import type { RngState } from '../util/rng';
import type { TransformSpec, TransformOutput, Sample } from '../transforms/types';
import type { Batch } from './collate';
import type { CaseRecord } from './msd';

/** Sent once, as workerData. */
export interface WorkerInit {
  /** The dataset's whole chain, for items that are loaded from scratch. */
  full: TransformSpec;
  /** The random tail, for cached items. */
  tail: TransformSpec;
  /** Modules to require before rebuilding transforms (custom transform registrations). */
  modules: string[];
}

/** One dataset item of a batch job. */
export type WorkerItem =
  /** A cached head output; `output` is sent the first time this worker sees the case, then omitted. */
  | { kind: 'cached'; caseIndex: number; rng: RngState; output?: TransformOutput }
  | { kind: 'files'; caseIndex: number; rng: RngState; record: CaseRecord }
  | { kind: 'loaded'; caseIndex: number; rng: RngState; sample: Sample };

/** A batch for one worker: its items are collated into one Batch and sent back. */
export interface BatchJob {
  type: 'batch';
  id: number;
  items: WorkerItem[];
}

/** An error as it crosses the thread boundary (LiversegError code and path kept). */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  path?: string;
}

/** The worker's answer to a BatchJob with the same id. */
export type WorkerReply = { type: 'batch'; id: number; batch: Batch } | { type: 'error'; id: number; error: SerializedError };
