/** Dataset: cases loaded and transformed on every access. */
import { invalidArg, describeValue } from '../errors';
import type { Rng } from '../util/rng';
import { Compose } from '../transforms/compose';
import type { Sample, Transform, TransformOutput } from '../transforms/types';
import type { CaseRecord } from './msd';
import type { VolumeLoader } from './load-case';
import { defaultLoader, loadCase } from './load-case';
import { applyTail } from './pipeline';

/** Options of {@link Dataset}. */
export interface DatasetOptions {
  /** Reads a volume file; default io's `loadVolume`. A custom loader keeps file loading on the main thread in a DataLoader. */
  loader?: VolumeLoader;
}

/** How a data loader obtains item i without running the whole chain itself (see DataLoader). */
export type PreparedItem =
  /** The head's cached output: only the tail remains to run. */
  | { kind: 'cached'; output: TransformOutput }
  /** File paths a worker can load itself with the default loader; then the full chain runs. */
  | { kind: 'files'; record: CaseRecord }
  /** A loaded, untransformed sample; the full chain runs. */
  | { kind: 'loaded'; sample: Sample };

/** Normalises the transform argument of a dataset. */
export function toCompose(transform: Transform | readonly Transform[] | undefined): Compose {
  if (transform === undefined) return new Compose([]);
  if (transform instanceof Compose) return transform;
  if (Array.isArray(transform)) return new Compose(transform);
  if (typeof (transform as Transform).apply === 'function') return new Compose([transform as Transform]);
  throw invalidArg('transform', `expected a transform, a list of transforms or a Compose, got ${describeValue(transform)}`);
}

/**
 * A list of cases and a transform chain. Every `get` loads the files and runs the whole chain, so
 * memory stays flat; use {@link CacheDataset} to load once and keep the deterministic part.
 */
export class Dataset {
  /** The cases, in index order. */
  readonly cases: readonly CaseRecord[];
  /** The full transform chain. */
  readonly transform: Compose;
  /** The chain before its first random transform, and the rest. */
  readonly head: Compose;
  readonly tail: Compose;
  protected readonly loader: VolumeLoader;
  /** True when files are read with the default loader, so worker threads may read them themselves. */
  readonly defaultLoader: boolean;

  constructor(cases: readonly CaseRecord[], transform?: Transform | readonly Transform[], options: DatasetOptions = {}) {
    if (!Array.isArray(cases)) throw invalidArg('cases', `expected an array of case records, got ${describeValue(cases)}`);
    cases.forEach((c, i) => {
      if (!c || typeof c !== 'object' || typeof c.name !== 'string' || (typeof c.image !== 'string' && (typeof c.image !== 'object' || c.image === null))) {
        throw invalidArg(`cases[${i}]`, `expected { name, image, label? }, got ${describeValue(c)}`);
      }
    });
    this.cases = [...cases];
    this.transform = toCompose(transform);
    const { head, tail } = this.transform.splitAtFirstRandom();
    this.head = head;
    this.tail = tail;
    this.loader = options.loader ?? defaultLoader;
    this.defaultLoader = options.loader === undefined;
  }

  /** Number of cases. */
  get length(): number {
    return this.cases.length;
  }

  protected checkIndex(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.cases.length)
      throw invalidArg('index', `expected an integer in 0..${this.cases.length - 1}, got ${describeValue(i)}`);
  }

  /** The untransformed sample of case i (geometry checked). */
  async load(i: number): Promise<Sample> {
    this.checkIndex(i);
    return loadCase(this.cases[i], this.loader);
  }

  /** Case i through the whole chain: one sample, or several when a transform yields several (random crops). */
  async get(i: number, rng?: Rng): Promise<TransformOutput> {
    return this.transform.apply(await this.load(i), rng);
  }

  /** Like `get`, always as a list. */
  async getSamples(i: number, rng?: Rng): Promise<Sample[]> {
    const out = await this.get(i, rng);
    return Array.isArray(out) ? out : [out];
  }

  /** What a loader needs to produce item i elsewhere (a worker thread). */
  async prepare(i: number): Promise<PreparedItem> {
    this.checkIndex(i);
    const c = this.cases[i];
    if (this.defaultLoader && typeof c.image === 'string' && (c.label === undefined || typeof c.label === 'string')) return { kind: 'files', record: c };
    return { kind: 'loaded', sample: await this.load(i) };
  }

  /** Runs a prepared item here, exactly as a worker would. */
  runPrepared(item: PreparedItem, rng?: Rng): Sample[] {
    if (item.kind === 'cached') return applyTail(this.tail, item.output, rng);
    if (item.kind === 'loaded') return this.transform.applyAll(item.sample, rng);
    throw invalidArg('item', 'file items must be loaded first');
  }
}
