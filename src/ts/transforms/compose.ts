/** Compose: a chain of dictionary transforms, splittable at its first random one for caching. */
import { invalidArg, describeValue } from '../errors';
import type { Rng } from '../util/rng';
import type { Sample, Transform, TransformOutput, TransformSpec } from './types';

/**
 * Runs transforms in order. When one returns several samples (a random crop's patches), each of
 * them goes through the rest of the chain, as MONAI does. The same `rng` is passed to every
 * transform in turn, so one seed fixes the whole chain.
 */
export class Compose implements Transform {
  readonly name = 'Compose';
  readonly transforms: readonly Transform[];

  constructor(transforms: readonly Transform[]) {
    if (!Array.isArray(transforms)) throw invalidArg('transforms', `expected an array of transforms, got ${describeValue(transforms)}`);
    transforms.forEach((t, i) => {
      if (!t || typeof t.apply !== 'function' || typeof t.toSpec !== 'function') {
        throw invalidArg(`transforms[${i}]`, `expected a transform (with apply and toSpec), got ${describeValue(t)}`);
      }
    });
    this.transforms = [...transforms];
  }

  /** True when any transform in the chain is random. */
  get random(): boolean {
    return this.transforms.some((t) => t.random);
  }

  /** Index of the first random transform, or the chain length when there is none. */
  get firstRandomIndex(): number {
    const i = this.transforms.findIndex((t) => t.random);
    return i < 0 ? this.transforms.length : i;
  }

  /**
   * The deterministic head (everything before the first random transform) and the rest. Applying
   * `head` then `tail` equals applying the whole chain; `CacheDataset` caches the head's output.
   */
  splitAtFirstRandom(): { head: Compose; tail: Compose } {
    const i = this.firstRandomIndex;
    return { head: new Compose(this.transforms.slice(0, i)), tail: new Compose(this.transforms.slice(i)) };
  }

  apply(sample: Sample, rng?: Rng): TransformOutput {
    let items: Sample[] = [sample];
    let many = false;
    for (const t of this.transforms) {
      const next: Sample[] = [];
      for (const s of items) {
        const r = t.apply(s, rng);
        if (Array.isArray(r)) {
          many = true;
          for (const x of r) next.push(x);
        } else next.push(r);
      }
      items = next;
    }
    return many ? items : items[0];
  }

  /** Like `apply`, always as a list. */
  applyAll(sample: Sample, rng?: Rng): Sample[] {
    const r = this.apply(sample, rng);
    return Array.isArray(r) ? r : [r];
  }

  toSpec(): TransformSpec {
    return { name: this.name, args: { transforms: this.transforms.map((t) => t.toSpec()) } };
  }
}
