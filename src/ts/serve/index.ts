/**
 * liverseg as a service: `createServer` (the HTTP API, with an in-process queue or BullMQ on
 * Redis) and `startWorker` (a BullMQ worker). The implementations, with fastify and BullMQ, load
 * on first use, so `require('liverseg')` stays light for programs that only segment.
 */
import type { LiversegServer } from './server';
import type { LiversegWorker, WorkerShared } from './worker';
import type { ServerOptions, WorkerOptions } from './options';

export type { LiversegServer } from './server';
export type { LiversegWorker } from './worker';
export type { ServerOptions, WorkerOptions, RunnerOptions, StoreOptions, QueueConnectionOptions } from './options';
export type { JobView, JobState, JobProgress, JobOutcome, JobError, JobOptions, ResultFile } from './jobs';

/**
 * Starts the HTTP service (see docs/SERVE.md).
 * @example
 * const server = await createServer({ model: 'models/pipeline.json', port: 8080 });
 * process.once('SIGTERM', () => void server.close());
 */
export async function createServer(options: ServerOptions): Promise<LiversegServer> {
  const { createServer: create } = await import('./server');
  return create(options);
}

/**
 * Starts a BullMQ worker that takes jobs from `options.queue`.
 * @example
 * const worker = await startWorker({ model: 'models/pipeline.json', queue: 'redis://127.0.0.1:6379' });
 * process.once('SIGTERM', () => void worker.close());
 */
export async function startWorker(options: WorkerOptions, shared?: WorkerShared): Promise<LiversegWorker> {
  const { startWorker: start } = await import('./worker');
  return start(options, shared);
}
