/** CacheDataset: load once, keep the deterministic head's output in shared memory. */
import * as os from 'node:os';
import { invalidArg, describeValue } from '../errors';
import type { Rng } from '../util/rng';
import type { Transform, TransformOutput } from '../transforms/types';
import type { CaseRecord } from './msd';
import type { DatasetOptions, PreparedItem } from './dataset';
import { Dataset } from './dataset';
import { applyTail } from './pipeline';
import { shareOutput } from './shared';

/** Progress while caching. */
export interface CacheProgress {
  /** Cases cached so far. */
  done: number;
  /** Cases to cache. */
  total: number;
  /** The case just finished. */
  name: string;
  /** Bytes cached so far. */
  bytes: number;
  /** Milliseconds since caching started. */
  elapsedMs: number;
}

/** Options of {@link CacheDataset}. */
export interface CacheDatasetOptions extends DatasetOptions {
  /** Fraction of cases cached (the first floor(n * cacheRate)); the rest load on access. Default 1. */
  cacheRate?: number;
  /** At most this many cases cached. Default: no limit. */
  cacheNum?: number;
  /** Called after each cached case. */
  onProgress?: (p: CacheProgress) => void;
  /** Cases loaded at once while caching (gzip inflation runs on the libuv pool). Default min(4, CPUs). */
  concurrency?: number;
}

/**
 * Like {@link Dataset}, but the first `cacheCount` cases are loaded once and the transforms up to
 * the first random one run once per case; the result is kept with its voxel arrays in
 * SharedArrayBuffers, so DataLoader worker threads read it in place. `get` runs only the random
 * tail on a cached case. Caching starts on the first `init()` or `get()`.
 */
export class CacheDataset extends Dataset {
  /** Number of cases kept in memory. */
  readonly cacheCount: number;
  private readonly cache: (TransformOutput | undefined)[];
  private bytes = 0;
  private initPromise: Promise<void> | undefined;
  private readonly onProgress?: (p: CacheProgress) => void;
  private readonly concurrency: number;

  constructor(cases: readonly CaseRecord[], transform?: Transform | readonly Transform[], options: CacheDatasetOptions = {}) {
    super(cases, transform, options);
    const rate = options.cacheRate ?? 1;
    if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) throw invalidArg('cacheRate', `expected a number in [0, 1], got ${describeValue(rate)}`);
    const num = options.cacheNum ?? Infinity;
    if (!(num >= 0)) throw invalidArg('cacheNum', `expected a non-negative number, got ${describeValue(num)}`);
    this.cacheCount = Math.min(Math.floor(this.cases.length * rate), num, this.cases.length);
    this.cache = new Array(this.cacheCount).fill(undefined);
    this.onProgress = options.onProgress;
    const conc = options.concurrency ?? Math.min(4, Math.max(1, os.cpus().length));
    if (!Number.isInteger(conc) || conc < 1) throw invalidArg('concurrency', `expected a positive integer, got ${describeValue(conc)}`);
    this.concurrency = conc;
  }

  /** Bytes of voxel data held by the cache (shared memory). */
  get cacheBytes(): number {
    return this.bytes;
  }

  /** Fills the cache (once; later calls return the same promise). Rejects with the first case's error. */
  init(): Promise<void> {
    if (!this.initPromise) this.initPromise = this.fill();
    return this.initPromise;
  }

  private async fill(): Promise<void> {
    const t0 = Date.now();
    let next = 0;
    let done = 0;
    const work = async (): Promise<void> => {
      while (next < this.cacheCount) {
        const i = next++;
        const head = this.head.apply(await this.load(i));
        const { output, bytes } = shareOutput(head);
        this.cache[i] = output;
        this.bytes += bytes;
        done++;
        this.onProgress?.({ done, total: this.cacheCount, name: this.cases[i].name, bytes: this.bytes, elapsedMs: Date.now() - t0 });
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, Math.max(1, this.cacheCount)) }, work));
  }

  /** True when case i is one of the cached ones. */
  isCached(i: number): boolean {
    return i >= 0 && i < this.cacheCount;
  }

  /** The cached head output of case i (after `init`), or undefined for uncached cases. */
  cached(i: number): TransformOutput | undefined {
    return this.isCached(i) ? this.cache[i] : undefined;
  }

  override async get(i: number, rng?: Rng): Promise<TransformOutput> {
    this.checkIndex(i);
    if (!this.isCached(i)) return super.get(i, rng);
    await this.init();
    const head = this.cache[i] as TransformOutput;
    // Same answer shape as Dataset.get: the chain yields a list only when a transform made one.
    return Array.isArray(head) ? applyTail(this.tail, head, rng) : this.tail.apply(head, rng);
  }

  override async prepare(i: number): Promise<PreparedItem> {
    this.checkIndex(i);
    if (!this.isCached(i)) return super.prepare(i);
    await this.init();
    return { kind: 'cached', output: this.cache[i] as TransformOutput };
  }
}
