import { LiversegError } from '../errors';

/** Throws ERR_ABORTED when the signal has fired, so every cancellation reads the same to callers. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new LiversegError('ERR_ABORTED', `${what} was aborted`, { cause: signal.reason });
}
