/** Deriving independent, reproducible generators from a user seed and a position (epoch, item, case). */
import { mix32, Rng } from './rng';
import type { RngState } from './rng';

/**
 * The named random streams: each consumer of (seed, ...) draws from its own stream id, so adding
 * a consumer never shifts another's numbers. The values are part of the reproducibility contract
 * (a checkpoint resumed by a later version must see the same crops): never renumber them.
 */
export const RNG_STREAMS = {
  /** DataLoader: the epoch's shuffle order, (seed, SHUFFLE, epoch). */
  shuffle: 1,
  /** DataLoader: random transforms of one item, (seed, AUGMENT, epoch, position). */
  augment: 2,
  /** Phantom datasets: the seed of each phantom, (seed, PHANTOM, index). */
  phantom: 3,
  /** Trainer: LibTorch's generator (dropout) per epoch, (seed, TORCH, epoch). */
  torch: 7,
} as const;

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
