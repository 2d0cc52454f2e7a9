/**
 * Prometheus metrics of one API process (`GET /metrics`, text format 0.0.4): jobs by state and
 * queue depth (read from the queue at scrape time, so every API instance reports the same queue),
 * job durations, refused uploads, the process's own memory and the model's native memory, and,
 * with a Redis queue, each worker's memory from its heartbeat.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LoadedPipeline } from '../inferers/pipeline';
import type { JobRecord } from './jobs';
import { JOB_STATES } from './jobs';
import type { JobQueue } from './queue';
import type { WorkerHeartbeat } from './redis';
import { nativeMemory } from './worker';

export interface ServiceMetrics {
  registry: Registry;
  /** Counts a refused request by reason (too_large, unsupported, queue_full, unauthorized, bad_request, shutting_down). */
  rejected(reason: string): void;
  /** Counts an accepted upload and its bytes. */
  accepted(bytes: number): void;
}

export function createMetrics(
  queue: JobQueue,
  sources: { pipeline?: () => LoadedPipeline | undefined; workers?: () => Promise<WorkerHeartbeat[]> },
): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'liverseg_' });
  new Gauge({
    name: 'liverseg_jobs',
    help: 'Jobs known to the queue, by state (done, failed and cancelled ones until their results expire).',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const c = await queue.counts();
      for (const s of JOB_STATES) this.set({ state: s }, c[s]);
    },
  });
  new Gauge({
    name: 'liverseg_queue_depth',
    help: 'Jobs waiting for a worker.',
    registers: [registry],
    async collect() {
      this.set((await queue.counts()).queued);
    },
  });
  const duration = new Histogram({
    name: 'liverseg_job_duration_seconds',
    help: 'Time from a worker starting a job to its end, by outcome.',
    labelNames: ['outcome'],
    buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
    registers: [registry],
  });
  const finished = new Counter({
    name: 'liverseg_jobs_finished_total',
    help: 'Jobs that ended, by outcome (done, failed, cancelled).',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const rejected = new Counter({
    name: 'liverseg_requests_rejected_total',
    help: 'Requests refused before a job was made, by reason.',
    labelNames: ['reason'],
    registers: [registry],
  });
  const uploads = new Counter({ name: 'liverseg_uploads_total', help: 'Uploads accepted as jobs.', registers: [registry] });
  const uploadBytes = new Counter({ name: 'liverseg_upload_bytes_total', help: 'Bytes of accepted uploads.', registers: [registry] });
  new Gauge({
    name: 'liverseg_native_memory_bytes',
    help: "The model's native (LibTorch) memory in this process, where its device reports it.",
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      const p = sources.pipeline?.();
      const m = p ? nativeMemory(p) : { allocated: 0, reserved: 0 };
      this.set({ kind: 'allocated' }, m.allocated);
      this.set({ kind: 'reserved' }, m.reserved);
    },
  });
  if (sources.workers) {
    const workers = sources.workers;
    new Gauge({
      name: 'liverseg_workers',
      help: 'Queue workers with a live heartbeat.',
      registers: [registry],
      async collect() {
        this.set((await workers()).length);
      },
    });
    new Gauge({
      name: 'liverseg_worker_memory_bytes',
      help: "Each worker's memory from its last heartbeat: resident set, V8 heap, external buffers, native (LibTorch) allocations.",
      labelNames: ['worker', 'kind'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const w of await workers()) {
          this.set({ worker: w.name, kind: 'rss' }, w.memory.rss);
          this.set({ worker: w.name, kind: 'heap' }, w.memory.heapUsed);
          this.set({ worker: w.name, kind: 'external' }, w.memory.external);
          this.set({ worker: w.name, kind: 'native' }, w.memory.nativeAllocated);
        }
      },
    });
  }
  queue.on('finished', (r: JobRecord | null) => {
    if (!r) return;
    const outcome = r.state === 'done' ? 'done' : r.state === 'cancelled' ? 'cancelled' : 'failed';
    finished.inc({ outcome });
    if (r.startedAt !== undefined && r.finishedAt !== undefined) duration.observe({ outcome }, (r.finishedAt - r.startedAt) / 1000);
  });
  return {
    registry,
    rejected: (reason) => rejected.inc({ reason }),
    accepted: (bytes) => {
      uploads.inc();
      uploadBytes.inc(bytes);
    },
  };
}
