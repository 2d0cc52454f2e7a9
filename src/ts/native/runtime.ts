/** Process-wide native settings. */
import { invalidArg, describeValue } from '../errors';
import { loadBinding } from './loader';

/** LibTorch intra-op threads (default: every core, or LIVERSEG_NUM_THREADS). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw invalidArg('threads', `expected an integer from 1 to 1024, got ${describeValue(n)}`);
  loadBinding().setNumThreads(n);
}

/** Seeds LibTorch's generators (dropout, initialisation of models made without an explicit seed). */
export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0) throw invalidArg('seed', `expected a non-negative integer, got ${describeValue(seed)}`);
  loadBinding().manualSeed(seed);
}
