/**
 * A queue worker: loads the model once, then takes jobs from BullMQ on Redis, in this process
 * (`startWorker`) or as `liverseg-worker`. Workers lock the jobs they run and renew the lock
 * while they work; a worker that dies (even SIGKILL) stops renewing, and another worker's stalled
 * check puts the job back in the queue, where it runs again from the start. Results are written
 * under the job's id, whole or not at all, so a job that ran twice is still answered once.
 *
 * Stopping (`close()`, SIGTERM in the CLI): no new jobs are taken, running ones get
 * `drainTimeoutMs` to finish, and any still running then are put back in the queue for another
 * worker.
 */
import * as os from 'node:os';
import { UnrecoverableError, WaitingError, Worker } from 'bullmq';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { LoadedPipeline } from '../inferers/pipeline';
import { encodeFailure } from './bullmq-queue';
import type { JobData, JobOutcome, JobProgress } from './jobs';
import { checkPositiveInt, checkRedisUrl, DEFAULTS, WorkerOptions } from './options';
import { BULL_QUEUE, connectRedis, redisKeys, RedisKeys, waitForRedis, WorkerHeartbeat } from './redis';
import { defaultWorkerName, jobError, JobStopped, loadModel, runJob, StopReason } from './runner';
import type { BlobStore } from './store';
import { FolderStore, RedisStore } from './store';

export interface LiversegWorker {
  readonly name: string;
  readonly pipeline: LoadedPipeline;
  /** Jobs finished by this worker (done, failed). */
  stats(): { running: number; done: number; failed: number; cancelled: number };
  /** Stops taking jobs; waits for running ones (at most `drainTimeoutMs`), re-queues the rest, disconnects. */
  close(): Promise<void>;
}

const HEARTBEAT_MS = 5_000;

/** Resources a worker may share with the server it is embedded in. */
export interface WorkerShared {
  redis?: Redis;
  store?: BlobStore;
}

/**
 * Starts a worker on the BullMQ queue at `options.queue`.
 * @example
 * const worker = await startWorker({ model: 'models/pipeline.json', queue: 'redis://127.0.0.1:6379' });
 * process.on('SIGTERM', () => void worker.close());
 */
export async function startWorker(options: WorkerOptions, shared: WorkerShared = {}): Promise<LiversegWorker> {
  checkRedisUrl(options.queue);
  const concurrency = checkPositiveInt(options.concurrency ?? DEFAULTS.concurrency, 'concurrency');
  const jobTimeoutMs = checkPositiveInt(options.jobTimeoutMs ?? DEFAULTS.jobTimeoutMs, 'jobTimeoutMs');
  const resultTtlMs = checkPositiveInt(options.resultTtlMs ?? DEFAULTS.resultTtlMs, 'resultTtlMs');
  const lockDuration = checkPositiveInt(options.lockDurationMs ?? DEFAULTS.lockDurationMs, 'lockDurationMs');
  const stalledInterval = checkPositiveInt(options.stalledIntervalMs ?? lockDuration, 'stalledIntervalMs');
  const drainTimeoutMs = checkPositiveInt(options.drainTimeoutMs ?? DEFAULTS.drainTimeoutMs, 'drainTimeoutMs', 0);
  const name = options.name ?? defaultWorkerName();
  const keys: RedisKeys = redisKeys(options.queueName ?? DEFAULTS.queueName);

  // The model first: a worker that cannot load it should fail before it takes a job.
  const pipeline = await loadModel(options.model, options.device);
  const ownRedis = !shared.redis;
  const redis = shared.redis ?? connectRedis(options.queue, `liverseg-worker:${name}`);
  await waitForRedis(redis, options.queue);
  const ownStore = !shared.store;
  const store =
    shared.store ??
    (options.store
      ? await FolderStore.create(options.store)
      : await RedisStore.create(redis, keys.prefix, options.maxRedisBlobBytes ?? DEFAULTS.maxRedisBlobBytes));

  const counters = { running: 0, done: 0, failed: 0, cancelled: 0 };
  /** Running jobs' controllers: cancel (from the API), time limit, shutdown. */
  const controllers = new Map<string, AbortController>();
  const startedAt = Date.now();

  const processor = async (job: Job<JobData, JobOutcome>, token?: string): Promise<JobOutcome> => {
    const id = job.data.id;
    if (await redis.exists(keys.cancelled(id))) throw new UnrecoverableError(encodeFailure({ code: 'ERR_ABORTED', message: 'the job was cancelled' }));
    const controller = new AbortController();
    controllers.set(id, controller);
    const timer = setTimeout(() => controller.abort('timeout' satisfies StopReason), jobTimeoutMs);
    counters.running++;
    let lastStage = '';
    try {
      const outcome = await runJob(job.data, {
        store,
        pipeline,
        signal: controller.signal,
        progress: (p: JobProgress) => {
          if (p.stage === lastStage) return;
          lastStage = p.stage;
          void job.updateProgress(p as unknown as object).catch(() => undefined);
        },
        expiresAt: Date.now() + resultTtlMs + jobTimeoutMs,
        worker: name,
      });
      await store.touch(id, Date.now() + resultTtlMs);
      counters.done++;
      return outcome;
    } catch (e) {
      if (e instanceof JobStopped && e.reason === 'shutdown' && token) {
        // Back to the queue for another worker (or this one after a restart): not a failure.
        await job.moveToWait(token);
        throw new WaitingError();
      }
      if (e instanceof JobStopped && e.reason === 'cancelled') counters.cancelled++;
      else counters.failed++;
      // Its files (the upload) go with its record, a TTL from now.
      await store.touch(id, Date.now() + resultTtlMs).catch(() => undefined);
      // Unrecoverable: a bad file fails the same way every time, so it is never retried.
      throw new UnrecoverableError(encodeFailure(jobError(e, store.scratch)));
    } finally {
      clearTimeout(timer);
      controllers.delete(id);
      counters.running--;
    }
  };

  const worker = new Worker<JobData, JobOutcome>(BULL_QUEUE, processor, {
    connection: redis,
    prefix: keys.prefix,
    concurrency,
    lockDuration,
    stalledInterval,
    // One death is recovered; a job that kills every worker that takes it fails (ERR_WORKER_LOST).
    maxStalledCount: 2,
    name,
    autorun: false,
  });
  worker.on('error', (e) => process.stderr.write(`[liverseg-worker ${name}] ${(e as Error).message}\n`));

  // Cancellation from any API instance: a message on the channel names the job.
  const subscriber = redis.duplicate();
  await subscriber.subscribe(keys.cancelChannel);
  subscriber.on('message', (_channel: string, id: string) => controllers.get(id)?.abort('cancelled' satisfies StopReason));

  const beat = async (): Promise<void> => {
    const mem = process.memoryUsage();
    const native = nativeMemory(pipeline);
    const hb: WorkerHeartbeat = {
      name,
      host: os.hostname(),
      pid: process.pid,
      model: options.model,
      startedAt,
      at: Date.now(),
      ...counters,
      memory: { rss: mem.rss, heapUsed: mem.heapUsed, external: mem.external, nativeAllocated: native.allocated, nativeReserved: native.reserved },
    };
    await redis.set(keys.worker(name), JSON.stringify(hb), 'PX', HEARTBEAT_MS * 3).catch(() => undefined);
  };
  await beat();
  const heartbeat = setInterval(() => void beat(), HEARTBEAT_MS);
  heartbeat.unref();
  void worker.run();
  await worker.waitUntilReady();

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      clearInterval(heartbeat);
      const graceful = worker.close();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), drainTimeoutMs)));
      if ((await Promise.race([graceful.then(() => 'ok' as const), late])) === 'late') {
        for (const c of controllers.values()) c.abort('shutdown' satisfies StopReason);
        await graceful;
      }
      clearTimeout(timer);
      await redis.del(keys.worker(name)).catch(() => undefined);
      subscriber.disconnect();
      if (ownStore) await store.close();
      if (ownRedis) redis.disconnect();
    })());
  return { name, pipeline, stats: () => ({ ...counters }), close };
}

/** Native memory of the loaded models (LibTorch's allocator; zeros where the device does not report it). */
export function nativeMemory(p: LoadedPipeline): { allocated: number; reserved: number } {
  let allocated = 0,
    reserved = 0;
  for (const m of [p.coarse, p.fine]) {
    if (!m) continue;
    try {
      const s = m.net.memoryStats();
      allocated += s.allocated;
      reserved += s.reserved;
    } catch {
      // a disposed model
    }
  }
  return { allocated, reserved };
}
