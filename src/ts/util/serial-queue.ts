/**
 * Runs async jobs one at a time in call order. Native calls on one model go through one of
 * these, so concurrent callers queue in JavaScript instead of parking libuv threads on a mutex
 * (the libuv pool also serves fs and zlib).
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  /** Jobs waiting or running. */
  get size(): number {
    return this.pending;
  }

  run<T>(job: () => Promise<T>): Promise<T> {
    this.pending++;
    const result = this.tail.then(job, job);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result.finally(() => {
      this.pending--;
    });
  }
}
