/**
 * The queue on Redis through BullMQ, as the API sees it: jobs are added here and taken by
 * `liverseg-worker` processes (worker.ts) on this machine or others. BullMQ is the source of
 * truth for a job's state, progress, result and failure, so any API instance answers for any job.
 * Two keys of liverseg's own sit beside BullMQ's: a cancelled job's record and the workers'
 * heartbeats.
 */
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { Job, Queue, QueueEvents } from 'bullmq';
import type { JobData, JobError, JobOutcome, JobProgress, JobRecord, JobState } from './jobs';
import type { CancelOutcome, JobQueue, QueueCounts, QueueLimits, Readiness } from './queue';
import { emptyCounts, estimateRetryAfter, QueueFullError } from './queue';
import { BULL_QUEUE, readHeartbeats, RedisKeys, scanKeys, WorkerHeartbeat } from './redis';
import type { BlobStore } from './store';

/** A job's failure as workers record it: the JSON of a {@link JobError} as BullMQ's failedReason. */
export function encodeFailure(e: JobError): string {
  return JSON.stringify(e);
}

export function decodeFailure(reason: string | undefined): JobError {
  if (!reason) return { code: 'ERR_INTERNAL', message: 'the job failed without a reason' };
  try {
    const e = JSON.parse(reason) as Partial<JobError>;
    if (typeof e.code === 'string' && typeof e.message === 'string') return { code: e.code, message: e.message };
  } catch {
    // BullMQ's own reasons are plain text
  }
  if (/stalled more than allowable limit/.test(reason))
    return { code: 'ERR_WORKER_LOST', message: 'the workers running this job stopped (it stalled more times than allowed)' };
  return { code: 'ERR_INTERNAL', message: reason.slice(0, 500) };
}

interface CancelledRecord {
  data: JobData;
  finishedAt: number;
}

const WAITING_STATES = ['wait', 'prioritized', 'delayed', 'paused', 'waiting-children'] as const;

export class BullmqQueue extends EventEmitter implements JobQueue {
  readonly kind = 'redis' as const;
  readonly queue: Queue<JobData, JobOutcome>;
  private readonly events: QueueEvents;
  private readonly eventsConnection: Redis;
  private readonly recent: number[] = [];
  private closing = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly store: BlobStore,
    private readonly limits: QueueLimits,
  ) {
    super();
    this.queue = new Queue<JobData, JobOutcome>(BULL_QUEUE, { connection: redis, prefix: keys.prefix });
    // Its own connection (it blocks on a stream read): a duplicate of ours.
    this.eventsConnection = redis.duplicate();
    this.events = new QueueEvents(BULL_QUEUE, { connection: this.eventsConnection, prefix: keys.prefix });
    this.events.on('completed', ({ jobId }) => void this.finished(jobId));
    this.events.on('failed', ({ jobId }) => void this.finished(jobId));
    // Errors are reported through readiness; an unhandled 'error' event would end the process.
    this.queue.on('error', () => undefined);
    this.events.on('error', () => undefined);
  }

  private async finished(id: string): Promise<void> {
    const r = await this.get(id).catch(() => null);
    if (!r) return;
    if (r.startedAt !== undefined && r.finishedAt !== undefined) {
      this.recent.push(r.finishedAt - r.startedAt);
      if (this.recent.length > 20) this.recent.shift();
    }
    this.emit('finished', r);
  }

  async waitUntilReady(): Promise<void> {
    await this.queue.waitUntilReady();
    await this.events.waitUntilReady();
  }

  private async depth(): Promise<number> {
    const c = await this.queue.getJobCounts(...WAITING_STATES);
    return Object.values(c).reduce((a, b) => a + b, 0);
  }

  async full(): Promise<{ full: boolean; retryAfterSeconds: number }> {
    const [depth, workers] = await Promise.all([this.depth(), this.workers()]);
    return { full: depth >= this.limits.maxQueued, retryAfterSeconds: estimateRetryAfter(depth, Math.max(1, workers.length), this.recent) };
  }

  async add(data: JobData): Promise<void> {
    // Check-then-add: several API instances may together overshoot the bound by a few jobs.
    const f = await this.full();
    if (f.full) throw new QueueFullError(f.retryAfterSeconds);
    const age = Math.ceil(this.limits.resultTtlMs / 1000);
    await this.queue.add('segment', data, { jobId: data.id, attempts: 1, removeOnComplete: { age }, removeOnFail: { age } });
  }

  async get(id: string): Promise<JobRecord | null> {
    const job = (await this.queue.getJob(id)) as Job<JobData, JobOutcome> | undefined;
    if (!job) return this.cancelledRecord(id);
    const bullState = await job.getState();
    let state: JobState;
    if (bullState === 'active') state = 'running';
    else if (bullState === 'completed') state = 'done';
    else if (bullState === 'failed') state = 'failed';
    else if (bullState === 'unknown') return this.cancelledRecord(id);
    else state = 'queued';
    const r: JobRecord = { data: job.data, state, attempts: job.attemptsStarted ?? 0 };
    if (job.processedOn) r.startedAt = job.processedOn;
    if (state === 'running' && job.progress && typeof job.progress === 'object') r.progress = job.progress as unknown as JobProgress;
    if (state === 'done' || state === 'failed') {
      r.finishedAt = job.finishedOn ?? Date.now();
      r.expiresAt = r.finishedAt + this.limits.resultTtlMs;
      if (r.expiresAt <= Date.now()) {
        await this.forget(id, job);
        return null;
      }
    }
    if (state === 'done') r.outcome = job.returnvalue;
    if (state === 'failed') {
      r.error = decodeFailure(job.failedReason);
      if (r.error.code === 'ERR_ABORTED' && (await this.redis.exists(this.keys.cancelled(id)))) r.state = 'cancelled';
    }
    return r;
  }

  private async cancelledRecord(id: string): Promise<JobRecord | null> {
    const raw = await this.redis.get(this.keys.cancelled(id));
    if (!raw) return null;
    const c = JSON.parse(raw) as CancelledRecord;
    return {
      data: c.data,
      state: 'cancelled',
      attempts: 0,
      finishedAt: c.finishedAt,
      expiresAt: c.finishedAt + this.limits.resultTtlMs,
      error: { code: 'ERR_ABORTED', message: 'the job was cancelled' },
    };
  }

  private async forget(id: string, job?: Job): Promise<void> {
    await job?.remove().catch(() => undefined);
    await this.redis.del(this.keys.cancelled(id));
    await this.store.remove(id);
  }

  async cancel(id: string): Promise<CancelOutcome | null> {
    const r = await this.get(id);
    if (!r) return null;
    const job = await this.queue.getJob(id);
    const record: CancelledRecord = { data: r.data, finishedAt: Date.now() };
    if (r.state === 'queued' && job) {
      // Written first, so a worker that takes the job in the meantime sees it and stops at once.
      await this.redis.set(this.keys.cancelled(id), JSON.stringify(record), 'PX', this.limits.resultTtlMs);
      const removed = await job.remove().then(
        () => true,
        () => false,
      );
      if (removed) {
        await this.store.remove(id);
        this.emit('finished', await this.get(id));
        return 'cancelled';
      }
    }
    if (r.state === 'queued' || r.state === 'running') {
      await this.redis.set(this.keys.cancelled(id), JSON.stringify(record), 'PX', this.limits.resultTtlMs + this.limits.jobTimeoutMs);
      await this.redis.publish(this.keys.cancelChannel, id);
      return 'cancelling';
    }
    await this.forget(id, job ?? undefined);
    return 'removed';
  }

  async counts(): Promise<QueueCounts> {
    const c = await this.queue.getJobCounts(...WAITING_STATES, 'active', 'completed', 'failed');
    const out = emptyCounts();
    for (const s of WAITING_STATES) out.queued += c[s] ?? 0;
    out.running = c.active ?? 0;
    out.done = c.completed ?? 0;
    out.failed = c.failed ?? 0;
    out.cancelled = (await scanKeys(this.redis, this.keys.cancelled('*'), 100_000)).length;
    return out;
  }

  workers(): Promise<WorkerHeartbeat[]> {
    return readHeartbeats(this.redis, this.keys);
  }

  async ready(): Promise<Readiness> {
    if (this.closing) return { ok: false, reason: 'shutting down', workers: 0 };
    try {
      await this.redis.ping();
    } catch (e) {
      return { ok: false, reason: `Redis unreachable: ${(e as Error).message}`, workers: 0 };
    }
    const workers = (await this.workers()).length;
    return workers > 0 ? { ok: true, workers } : { ok: false, reason: 'no worker has a model loaded', workers };
  }

  async sweep(now = Date.now()): Promise<void> {
    await this.queue.clean(this.limits.resultTtlMs, 1000, 'completed').catch(() => undefined);
    await this.queue.clean(this.limits.resultTtlMs, 1000, 'failed').catch(() => undefined);
    await this.store.sweep(now).catch(() => undefined);
  }

  async drain(): Promise<void> {
    // Jobs live in Redis: nothing to wait for here; workers finish or re-queue their own.
    this.closing = true;
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.events.close().catch(() => undefined);
    await this.queue.close().catch(() => undefined);
    this.eventsConnection.disconnect();
  }
}
