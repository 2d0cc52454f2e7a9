/**
 * The contract every transform follows. A transform never mutates the sample or the volumes it is
 * given: it returns a new sample whose changed keys hold new volumes, so a cached sample can be fed
 * to random transforms again and again.
 */
import { invalidArg, describeValue } from '../errors';
import type { Volume } from '../volume';
import { assertVolume } from '../volume';
import type { Rng } from '../util/rng';

/**
 * One training or inference item: an image, usually a label, and any metadata a transform or the
 * dataset attached (case name, file paths, a foreground box...).
 */
export interface Sample {
  image: Volume;
  label?: Volume;
  [key: string]: unknown;
}

/** What a transform returns: one sample, or several (a random crop that yields `numSamples` patches). */
export type TransformOutput = Sample | Sample[];

/** A JSON description of a transform, enough to rebuild it with `transformFromSpec` (in a worker thread, say). */
export interface TransformSpec {
  name: string;
  args: Record<string, unknown>;
}

/** A dictionary transform. */
export interface Transform {
  /** The registry name; `toSpec().name`. */
  readonly name: string;
  /**
   * True when the output depends on the `Rng`. `CacheDataset` caches the output of a `Compose` up
   * to (not including) the first random transform.
   */
  readonly random: boolean;
  /** Applies the transform. Random transforms need `rng`; deterministic ones ignore it. */
  apply(sample: Sample, rng?: Rng): TransformOutput;
  /** JSON description for `transformFromSpec`. Throws for transforms holding functions. */
  toSpec(): TransformSpec;
}

/** Options shared by every dictionary transform. */
export interface KeysOptions {
  /** Sample keys holding the volumes to transform, e.g. `['image', 'label']`. */
  keys: string | string[];
  /** Skip keys missing from a sample instead of throwing (inference samples have no label). Default false. */
  allowMissingKeys?: boolean;
}

/**
 * Keys that hold label maps by default: interpolation-based transforms use nearest neighbour for
 * them and keep their integer type unless told otherwise.
 */
export function isLabelKey(key: string): boolean {
  return /label|seg|mask/i.test(key);
}

/** Normalises a scalar-or-triple option to a triple. */
export function toVec3(v: number | readonly number[], name: string): [number, number, number] {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw invalidArg(name, `expected a finite number, got ${describeValue(v)}`);
    return [v, v, v];
  }
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw invalidArg(name, `expected a number or 3 numbers, got ${describeValue(v)}`);
  }
  return [v[0], v[1], v[2]];
}

/** Checks a probability option. */
export function checkProb(p: unknown, name = 'prob'): number {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw invalidArg(name, `expected a number in [0, 1], got ${describeValue(p)}`);
  return p;
}

/** A random transform's guard: the Rng is not optional for it. */
export function requireRng(rng: Rng | undefined, transform: string): Rng {
  if (!rng) throw invalidArg('rng', `${transform} is random and needs an Rng passed to apply(sample, rng)`);
  return rng;
}

/**
 * Base for dictionary transforms: key handling, shallow sample copy, and a spec built from the
 * constructor options (so `new C(spec.args)` rebuilds the same transform).
 */
export abstract class MapTransform<O extends KeysOptions = KeysOptions> implements Transform {
  abstract readonly name: string;
  readonly random: boolean = false;
  /** The keys this transform reads and replaces. */
  readonly keys: string[];
  protected readonly options: O;

  constructor(options: O) {
    if (options === null || typeof options !== 'object') throw invalidArg('options', `expected an object, got ${describeValue(options)}`);
    const keys = typeof options.keys === 'string' ? [options.keys] : options.keys;
    if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === 'string' && k.length > 0)) {
      throw invalidArg('keys', `expected a non-empty list of sample keys, got ${describeValue(options.keys)}`);
    }
    this.keys = [...keys];
    this.options = options;
  }

  abstract apply(sample: Sample, rng?: Rng): TransformOutput;

  toSpec(): TransformSpec {
    return { name: this.name, args: JSON.parse(JSON.stringify(this.options)) as Record<string, unknown> };
  }

  /** The keys of `sample` to work on, each checked to hold a Volume. */
  protected presentKeys(sample: Sample): string[] {
    const out: string[] = [];
    for (const key of this.keys) {
      const v = sample[key];
      if (v === undefined) {
        if (this.options.allowMissingKeys) continue;
        throw invalidArg('sample', `${this.name}: the sample has no key '${key}' (pass allowMissingKeys: true to skip it)`);
      }
      assertVolume(v, `sample.${key}`);
      out.push(key);
    }
    return out;
  }

  /** A shallow copy of `sample` with `f` applied to each present key. */
  protected mapKeys(sample: Sample, f: (vol: Volume, key: string, index: number) => Volume): Sample {
    const out: Sample = { ...sample };
    this.presentKeys(sample).forEach((key, n) => {
      out[key] = f(sample[key] as Volume, key, n);
    });
    return out;
  }
}
