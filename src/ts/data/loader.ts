/**
 * DataLoader: batches of transformed samples, shuffled per epoch from a seed, produced inline or by
 * worker threads with identical results.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ERROR_CODES, LiversegError, invalidArg, describeValue } from '../errors';
import type { LiversegErrorCode } from '../errors';
import type { TransformSpec } from '../transforms/types';
import type { Batch } from './collate';
import { collate } from './collate';
import type { Dataset } from './dataset';
import { deriveRng, deriveRngState, RNG_STREAMS } from '../util/seeds';
import type { BatchJob, SerializedError, WorkerInit, WorkerItem, WorkerReply } from './worker-protocol';

/** Options of {@link DataLoader}. */
export interface DataLoaderOptions {
  /** Dataset items (volumes) per batch; all crops of those volumes go into the batch. Default 1. */
  batchSize?: number;
  /** Shuffle the item order each epoch (from `seed` and the epoch number). Default false. */
  shuffle?: boolean;
  /** Seed for the order and every random transform. Default 0. */
  seed?: number;
  /**
   * Worker threads. 0 (default) runs inline. With workers, the random transforms run in the threads
   * on the shared cached samples; if the compiled worker (lib/data/loader-worker.js) is absent, the
   * loader quietly runs inline.
   */
  numWorkers?: number;
  /** Batches prepared ahead. Default 2 per worker, 1 inline. */
  prefetch?: number;
  /** Drop a last, smaller batch. Default false. */
  dropLast?: boolean;
  /** Absolute module paths each worker requires first (to register custom transforms). */
  workerModules?: string[];
  /**
   * Data-parallel training: this loader serves rank `rank`'s part of every global batch of
   * `worldSize * batchSize` items. The epoch's order is the same on every rank (from (seed, epoch));
   * it is padded to a multiple of worldSize by wrapping around (as PyTorch's DistributedSampler),
   * and each global batch, the last one included, is split into equal contiguous parts, rank 0 first.
   * Each item's random stream follows its global position, so the ranks together see exactly the
   * samples one process with batchSize * worldSize would.
   */
  shard?: { rank: number; worldSize: number };
}

/** One batch of an epoch: its dataset indices and their positions in the epoch (which seed their transforms). */
interface BatchPlan {
  indices: number[];
  positions: number[];
}

/** Options of {@link DataLoader.epoch}. */
export interface EpochOptions {
  /** Start at this batch (to resume a run mid-epoch); earlier batches are skipped, later ones are unchanged. */
  startBatch?: number;
}

/** The compiled worker script, if one can be found next to this file or in the package's lib/. */
export function findWorkerScript(): string | undefined {
  const candidates = [path.join(__dirname, 'loader-worker.js'), path.resolve(__dirname, '../../../lib/data/loader-worker.js')];
  return candidates.find((p) => fs.existsSync(p));
}

function reviveError(e: SerializedError): Error {
  if (e.code && (ERROR_CODES as readonly string[]).includes(e.code)) {
    return new LiversegError(e.code as LiversegErrorCode, e.message, e.path !== undefined ? { path: e.path } : undefined);
  }
  // A worker's failure that is not one of ours (a bug in a user transform, say) keeps its message and name.
  return new LiversegError('ERR_DATASET', `DataLoader worker: ${e.name}: ${e.message}`, e.path !== undefined ? { path: e.path } : undefined);
}

interface PoolWorker {
  worker: Worker;
  pending: Map<number, { resolve: (b: Batch) => void; reject: (e: Error) => void }>;
  /** Cases whose cached sample this worker already holds. */
  sent: Set<number>;
  dead: Error | null;
}

class WorkerPool {
  private readonly workers: PoolWorker[];
  private nextId = 1;

  constructor(script: string, count: number, init: WorkerInit) {
    this.workers = Array.from({ length: count }, () => {
      const pw: PoolWorker = { worker: new Worker(script, { workerData: init }), pending: new Map(), sent: new Set(), dead: null };
      pw.worker.unref();
      pw.worker.on('message', (msg: WorkerReply) => {
        const p = pw.pending.get(msg.id);
        if (!p) return;
        pw.pending.delete(msg.id);
        if (pw.pending.size === 0) pw.worker.unref();
        if (msg.type === 'batch') p.resolve(msg.batch);
        else p.reject(reviveError(msg.error));
      });
      const fail = (e: Error): void => {
        pw.dead = e;
        for (const p of pw.pending.values()) p.reject(e);
        pw.pending.clear();
      };
      pw.worker.on('error', (e) => fail(e instanceof Error ? e : new Error(String(e))));
      pw.worker.on('exit', (code) => {
        if (!pw.dead) fail(new LiversegError('ERR_ABORTED', `DataLoader worker exited (code ${code})`));
      });
      return pw;
    });
  }

  /** The live worker with the fewest jobs in flight. */
  pick(): PoolWorker {
    let best: PoolWorker | undefined;
    for (const w of this.workers) if (!w.dead && (!best || w.pending.size < best.pending.size)) best = w;
    if (!best) throw this.workers[0].dead ?? new Error('no DataLoader workers');
    return best;
  }

  run(pw: PoolWorker, items: WorkerItem[]): Promise<Batch> {
    const id = this.nextId++;
    return new Promise<Batch>((resolve, reject) => {
      pw.pending.set(id, { resolve, reject });
      // Referenced only while a job is in flight: an idle pool must not keep the process alive,
      // a busy one must (the batch it owes may be the only thing left to wait for).
      pw.worker.ref();
      pw.worker.postMessage({ type: 'batch', id, items } satisfies BatchJob);
    });
  }

  async close(): Promise<void> {
    await Promise.all(
      this.workers.map(async (w) => {
        w.dead = w.dead ?? new LiversegError('ERR_ABORTED', 'DataLoader closed');
        await w.worker.terminate();
      }),
    );
  }
}

const yieldToEventLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Iterates a dataset in batches. Each epoch `e` has its own order (shuffled from (seed, e)) and each
 * item its own random stream (from (seed, e, position)), so an epoch is reproducible, can resume at
 * any batch, and comes out the same inline and with workers. A batch holds every sample its items
 * produce (e.g. batchSize 2 with 4 crops per volume gives 8 samples), collated contiguously.
 *
 * ```ts
 * const loader = new DataLoader(ds, { batchSize: 1, shuffle: true, seed: 1, numWorkers: 2 });
 * for (let e = 0; e < epochs; e++) for await (const batch of loader.epoch(e)) train(batch);
 * await loader.close();
 * ```
 */
export class DataLoader implements AsyncIterable<Batch> {
  readonly dataset: Dataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly numWorkers: number;
  readonly prefetch: number;
  readonly dropLast: boolean;
  readonly shard: { rank: number; worldSize: number };
  /** 'workers' when batches come from worker threads, 'inline' otherwise. */
  readonly mode: 'inline' | 'workers';
  private readonly workerScript?: string;
  private readonly workerInit?: WorkerInit;
  private pool?: WorkerPool;
  private nextEpoch = 0;

  constructor(dataset: Dataset, options: DataLoaderOptions = {}) {
    if (!dataset || typeof (dataset as Dataset).getSamples !== 'function') throw invalidArg('dataset', `expected a Dataset, got ${describeValue(dataset)}`);
    this.dataset = dataset;
    const int = (v: unknown, name: string, min: number): number => {
      if (!Number.isInteger(v) || (v as number) < min) throw invalidArg(name, `expected an integer >= ${min}, got ${describeValue(v)}`);
      return v as number;
    };
    this.batchSize = int(options.batchSize ?? 1, 'batchSize', 1);
    this.numWorkers = int(options.numWorkers ?? 0, 'numWorkers', 0);
    this.prefetch = int(options.prefetch ?? (this.numWorkers > 0 ? 2 * this.numWorkers : 1), 'prefetch', 1);
    this.shuffle = options.shuffle ?? false;
    const seed = options.seed ?? 0;
    if (typeof seed !== 'number' || !Number.isFinite(seed)) throw invalidArg('seed', `expected a number, got ${describeValue(seed)}`);
    this.seed = seed;
    this.dropLast = options.dropLast ?? false;
    const shard = options.shard ?? { rank: 0, worldSize: 1 };
    if (shard === null || typeof shard !== 'object') throw invalidArg('shard', `expected { rank, worldSize }, got ${describeValue(shard)}`);
    const worldSize = int(shard.worldSize, 'shard.worldSize', 1);
    const rank = int(shard.rank, 'shard.rank', 0);
    if (rank >= worldSize) throw invalidArg('shard.rank', `must be below worldSize (${worldSize}), got ${rank}`);
    this.shard = { rank, worldSize };
    this.workerScript = this.numWorkers > 0 ? findWorkerScript() : undefined;
    this.mode = this.workerScript ? 'workers' : 'inline';
    if (this.mode === 'workers') {
      const spec = (what: string, f: () => TransformSpec): TransformSpec => {
        try {
          return f();
        } catch (e) {
          throw new LiversegError(
            'ERR_INVALID_CONFIG',
            `DataLoader: the ${what} cannot be described for worker threads (${(e as Error).message}); register custom transforms or use numWorkers: 0`,
            { cause: e },
          );
        }
      };
      const modules = options.workerModules ?? [];
      if (!Array.isArray(modules) || !modules.every((m) => typeof m === 'string')) throw invalidArg('workerModules', 'expected a list of module paths');
      this.workerInit = { full: spec('transform chain', () => dataset.transform.toSpec()), tail: spec('random tail', () => dataset.tail.toSpec()), modules };
    }
  }

  /** Batches per epoch (the same on every rank of a shard). */
  get length(): number {
    const w = this.shard.worldSize;
    const n = w > 1 ? Math.ceil(this.dataset.length / w) * w : this.dataset.length;
    const g = this.batchSize * w;
    return this.dropLast ? Math.floor(n / g) : Math.ceil(n / g);
  }

  /** The dataset indices of epoch `e`, in the order they are served. */
  order(e: number): number[] {
    const idx = Array.from({ length: this.dataset.length }, (_, i) => i);
    return this.shuffle ? deriveRng(this.seed, RNG_STREAMS.shuffle, e).shuffle(idx) : idx;
  }

  /** Dataset indices per batch for epoch `e` (this rank's part of each global batch when sharded). */
  batches(e: number): number[][] {
    return this.plan(e).map((b) => b.indices);
  }

  private plan(e: number): BatchPlan[] {
    const order = this.order(e);
    const { rank, worldSize: w } = this.shard;
    const out: BatchPlan[] = [];
    if (w === 1) {
      for (let b = 0; b < this.length; b++) {
        const indices = order.slice(b * this.batchSize, (b + 1) * this.batchSize);
        out.push({ indices, positions: indices.map((_, n) => b * this.batchSize + n) });
      }
      return out;
    }
    const total = Math.ceil(order.length / w) * w;
    const padded = Array.from({ length: total }, (_, i) => order[i % order.length]);
    const g = this.batchSize * w;
    for (let b = 0; b < this.length; b++) {
      const start = b * g;
      const size = Math.min(g, total - start);
      const per = size / w;
      const positions = Array.from({ length: per }, (_, n) => start + rank * per + n);
      out.push({ indices: positions.map((p) => padded[p]), positions });
    }
    return out;
  }

  private itemRng(e: number, position: number): ReturnType<typeof deriveRngState> {
    return deriveRngState(this.seed, RNG_STREAMS.augment, e, position);
  }

  private async inlineBatch(e: number, { indices, positions }: BatchPlan): Promise<Batch> {
    // Let the consumer run first (it may start a native step that works off-thread meanwhile).
    await yieldToEventLoop();
    const samples = [];
    const cases: number[] = [];
    for (let n = 0; n < indices.length; n++) {
      const rng = deriveRng(this.seed, RNG_STREAMS.augment, e, positions[n]);
      for (const s of await this.dataset.getSamples(indices[n], rng)) {
        samples.push(s);
        cases.push(indices[n]);
      }
    }
    return collate(samples, cases);
  }

  private async workerBatch(e: number, { indices, positions }: BatchPlan): Promise<Batch> {
    if (!this.pool) this.pool = new WorkerPool(this.workerScript as string, this.numWorkers, this.workerInit as WorkerInit);
    const prepared = await Promise.all(indices.map((i) => this.dataset.prepare(i)));
    const pw = this.pool.pick();
    const items: WorkerItem[] = prepared.map((p, n) => {
      const caseIndex = indices[n];
      const rng = this.itemRng(e, positions[n]);
      if (p.kind === 'cached') {
        const first = !pw.sent.has(caseIndex);
        pw.sent.add(caseIndex);
        return first ? { kind: 'cached', caseIndex, rng, output: p.output } : { kind: 'cached', caseIndex, rng };
      }
      if (p.kind === 'files') return { kind: 'files', caseIndex, rng, record: p.record };
      return { kind: 'loaded', caseIndex, rng, sample: p.sample };
    });
    return this.pool.run(pw, items);
  }

  /**
   * The batches of epoch `e` (0-based). Up to `prefetch` batches are prepared ahead. Breaking out of
   * the loop early is fine; batches already in flight are dropped.
   */
  async *epoch(e: number, options: EpochOptions = {}): AsyncGenerator<Batch, void, undefined> {
    if (!Number.isInteger(e) || e < 0) throw invalidArg('epoch', `expected a non-negative integer, got ${describeValue(e)}`);
    const start = options.startBatch ?? 0;
    if (!Number.isInteger(start) || start < 0) throw invalidArg('startBatch', `expected a non-negative integer, got ${describeValue(start)}`);
    const batches = this.plan(e);
    const inFlight = new Map<number, Promise<Batch>>();
    let next = start;
    const launch = (): void => {
      while (next < batches.length && inFlight.size < this.prefetch) {
        const b = next++;
        const p = this.mode === 'workers' ? this.workerBatch(e, batches[b]) : this.inlineBatch(e, batches[b]);
        // Awaited below; this only keeps an abandoned epoch from reporting unhandled rejections.
        p.catch(() => undefined);
        inFlight.set(b, p);
      }
    };
    for (let b = start; b < batches.length; b++) {
      launch();
      const p = inFlight.get(b) as Promise<Batch>;
      inFlight.delete(b);
      const batch = await p;
      launch();
      yield batch;
    }
  }

  /** Iterates the next epoch: the first `for await` is epoch 0, the next epoch 1, and so on. */
  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    return this.epoch(this.nextEpoch++);
  }

  /** Stops the worker threads (a no-op inline). The loader can start new ones if iterated again. */
  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    if (pool) await pool.close();
  }
}
