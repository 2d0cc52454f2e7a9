/**
 * The queue between the API and whatever runs jobs. Two implementations with one interface: an
 * in-process queue (this file: the API process runs the jobs itself, the embedded default) and
 * BullMQ on Redis (bullmq-queue.ts: workers in other processes or on other machines).
 */
import { EventEmitter } from 'node:events';
import type { LoadedPipeline } from '../inferers/pipeline';
import type { JobData, JobRecord, JobState } from './jobs';
import { JOB_STATES } from './jobs';
import { jobError, JobStopped, runJob, StopReason } from './runner';
import type { BlobStore } from './store';

export type QueueCounts = Record<JobState, number>;

export interface Readiness {
  ok: boolean;
  /** Why not, when not. */
  reason?: string;
  /** Workers that have a model loaded (the in-process queue counts itself as one). */
  workers: number;
}

/** What DELETE did: removed from the queue before it ran, asked to stop while running, or removed after it ended. */
export type CancelOutcome = 'cancelled' | 'cancelling' | 'removed';

export class QueueFullError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('the queue is full');
  }
}

/** Emits 'finished' (JobRecord) when a job ends in this process's view (for metrics). */
export interface JobQueue extends EventEmitter {
  readonly kind: 'memory' | 'redis';
  /** Adds a job whose input is already in the store; QueueFullError when `maxQueued` jobs wait. */
  add(data: JobData): Promise<void>;
  /** Whether another job would be refused now, and when to try again. */
  full(): Promise<{ full: boolean; retryAfterSeconds: number }>;
  /** The job, or null when unknown or expired. */
  get(id: string): Promise<JobRecord | null>;
  cancel(id: string): Promise<CancelOutcome | null>;
  counts(): Promise<QueueCounts>;
  ready(): Promise<Readiness>;
  /** Stops taking jobs and waits (at most `timeoutMs`) for what is running (and, in-process, queued). */
  drain(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface QueueLimits {
  maxQueued: number;
  resultTtlMs: number;
  jobTimeoutMs: number;
}

/** Seconds to wait before retrying, from recent job durations, the queue's depth and the number of workers. */
export function estimateRetryAfter(depth: number, workers: number, recentMs: number[]): number {
  const mean = recentMs.length ? recentMs.reduce((a, b) => a + b, 0) / recentMs.length : 30_000;
  return Math.min(3600, Math.max(1, Math.ceil((mean * Math.max(1, depth)) / Math.max(1, workers) / 1000)));
}

export function emptyCounts(): QueueCounts {
  return Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as QueueCounts;
}

interface MemoryJob extends JobRecord {
  controller?: AbortController;
  done?: Promise<void>;
}

/** Jobs in this process: a FIFO run `concurrency` at a time, records kept until their results expire. */
export class InProcessQueue extends EventEmitter implements JobQueue {
  readonly kind = 'memory' as const;
  private readonly jobs = new Map<string, MemoryJob>();
  private readonly waiting: string[] = [];
  private running = 0;
  /** Set when draining starts: not ready, though queued jobs still run. */
  private closing = false;
  /** Set when the drain's wait is over: nothing more is started. */
  private draining = false;
  private readonly recent: number[] = [];
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly store: BlobStore,
    private readonly pipeline: LoadedPipeline,
    private readonly concurrency: number,
    private readonly limits: QueueLimits,
    private readonly worker: string,
  ) {
    super();
    this.sweeper = setInterval(() => void this.sweep(), Math.min(60_000, Math.max(250, limits.resultTtlMs / 4)));
    this.sweeper.unref();
  }

  async full(): Promise<{ full: boolean; retryAfterSeconds: number }> {
    return {
      full: this.waiting.length >= this.limits.maxQueued,
      retryAfterSeconds: estimateRetryAfter(this.waiting.length + this.running, this.concurrency, this.recent),
    };
  }

  async add(data: JobData): Promise<void> {
    const f = await this.full();
    if (f.full) throw new QueueFullError(f.retryAfterSeconds);
    this.jobs.set(data.id, { data, state: 'queued', attempts: 0 });
    this.waiting.push(data.id);
    this.pump();
  }

  private pump(): void {
    while (!this.draining && this.running < this.concurrency && this.waiting.length > 0) {
      const job = this.jobs.get(this.waiting.shift()!);
      if (job) this.start(job);
    }
  }

  private start(job: MemoryJob): void {
    this.running++;
    job.state = 'running';
    job.startedAt = Date.now();
    job.attempts++;
    const controller = new AbortController();
    job.controller = controller;
    const timer = setTimeout(() => controller.abort('timeout' satisfies StopReason), this.limits.jobTimeoutMs);
    job.done = runJob(job.data, {
      store: this.store,
      pipeline: this.pipeline,
      signal: controller.signal,
      progress: (p) => {
        job.progress = p;
      },
      expiresAt: Date.now() + this.limits.jobTimeoutMs + this.limits.resultTtlMs,
      worker: this.worker,
    })
      .then(
        (outcome) => {
          job.state = 'done';
          job.outcome = outcome;
          this.recent.push(outcome.timings.job);
          if (this.recent.length > 20) this.recent.shift();
        },
        (e: unknown) => {
          job.state = e instanceof JobStopped && e.reason === 'cancelled' ? 'cancelled' : 'failed';
          job.error = jobError(e, this.store.scratch);
        },
      )
      .then(async () => {
        clearTimeout(timer);
        job.controller = undefined;
        job.finishedAt = Date.now();
        job.expiresAt = job.finishedAt + this.limits.resultTtlMs;
        await this.store.touch(job.data.id, job.expiresAt).catch(() => undefined);
        this.running--;
        this.emit('finished', job);
        this.pump();
      });
  }

  async get(id: string): Promise<JobRecord | null> {
    const job = this.jobs.get(id);
    if (!job) return null;
    if (job.expiresAt !== undefined && job.expiresAt <= Date.now()) {
      await this.forget(id);
      return null;
    }
    return job;
  }

  private async forget(id: string): Promise<void> {
    this.jobs.delete(id);
    await this.store.remove(id);
  }

  async cancel(id: string): Promise<CancelOutcome | null> {
    const job = await this.get(id);
    if (!job) return null;
    const j = job as MemoryJob;
    if (j.state === 'queued') {
      const i = this.waiting.indexOf(id);
      if (i >= 0) this.waiting.splice(i, 1);
      j.state = 'cancelled';
      j.error = { code: 'ERR_ABORTED', message: 'the job was cancelled' };
      j.finishedAt = Date.now();
      j.expiresAt = j.finishedAt + this.limits.resultTtlMs;
      await this.store.remove(id);
      this.emit('finished', j);
      return 'cancelled';
    }
    if (j.state === 'running') {
      j.controller?.abort('cancelled' satisfies StopReason);
      return 'cancelling';
    }
    await this.forget(id);
    return 'removed';
  }

  async counts(): Promise<QueueCounts> {
    const c = emptyCounts();
    for (const j of this.jobs.values()) c[j.state]++;
    return c;
  }

  async ready(): Promise<Readiness> {
    return this.closing ? { ok: false, reason: 'shutting down', workers: 0 } : { ok: true, workers: 1 };
  }

  async sweep(now = Date.now()): Promise<void> {
    for (const [id, j] of this.jobs) if (j.expiresAt !== undefined && j.expiresAt <= now) await this.forget(id);
    await this.store.sweep(now).catch(() => undefined);
  }

  async drain(timeoutMs: number): Promise<void> {
    // Queued jobs still run: the process keeps answering for them until they are done.
    this.closing = true;
    const deadline = Date.now() + timeoutMs;
    while ((this.running > 0 || this.waiting.length > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    this.draining = true;
    for (const id of this.waiting.splice(0)) {
      const j = this.jobs.get(id);
      if (!j) continue;
      j.state = 'failed';
      j.error = { code: 'ERR_ABORTED', message: 'the service shut down before the job started' };
      j.finishedAt = Date.now();
    }
    const running = [...this.jobs.values()].filter((j) => j.state === 'running');
    for (const j of running) j.controller?.abort('shutdown' satisfies StopReason);
    await Promise.all(running.map((j) => j.done));
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    if (!this.draining) await this.drain(0);
  }
}
