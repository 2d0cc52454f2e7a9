/** Deriving independent, reproducible generators from a user seed and a position (epoch, item, case). */
import { Rng } from '../util/rng';
import type { RngState } from '../util/rng';

function mix32(x: number): number {
  let z = (x + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * The generator state for (seed, ...parts): a hash chain over the parts, so each position gets
 * its own stream that does not depend on what was drawn elsewhere. This is what makes an epoch
 * resumable mid-way and worker threads agree with the inline loader.
 */
export function deriveRngState(seed: number, ...parts: number[]): RngState {
  let h = mix32((seed >>> 0) ^ mix32(Math.floor(seed / 2 ** 32) >>> 0));
  for (const p of parts) h = mix32(h ^ mix32(p >>> 0));
  const s: RngState = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    h = mix32(h + i);
    s[i] = h;
  }
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
  return s;
}

/** A generator for (seed, ...parts); see {@link deriveRngState}. */
export function deriveRng(seed: number, ...parts: number[]): Rng {
  return new Rng(deriveRngState(seed, ...parts));
}
