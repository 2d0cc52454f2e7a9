/** Running the random tail of a chain on a cached (possibly multi-sample) head output. */
import type { Rng } from '../util/rng';
import type { Compose } from '../transforms/compose';
import type { Sample, TransformOutput } from '../transforms/types';

/** `tail` applied to each sample of `head` in order, flattened; the same code runs inline and in workers so both draw identically. */
export function applyTail(tail: Compose, head: TransformOutput, rng?: Rng): Sample[] {
  const items = Array.isArray(head) ? head : [head];
  const out: Sample[] = [];
  for (const s of items) for (const r of tail.applyAll(s, rng)) out.push(r);
  return out;
}
