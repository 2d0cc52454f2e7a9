/**
 * Options of the service (`createServer`, `liverseg-serve`) and of a queue worker
 * (`startWorker`, `liverseg-worker`), with their defaults and the parsers the CLIs share for
 * sizes ("2GB") and durations ("10m").
 */
import { invalidArg } from '../errors';

/** Everything a job runner needs, in the API process (in-process queue) or a worker process. */
export interface RunnerOptions {
  /** A pipeline or model bundle JSON; loaded once, before the first job. */
  model: string;
  /** 'auto', 'cpu', 'cuda' or 'cuda:N'. Default: LIVERSEG_DEVICE or 'auto'. */
  device?: string;
  /** Jobs run at the same time by this process. Default 1 (native work on one model is serial anyway). */
  concurrency?: number;
  /** A job running longer than this fails with ERR_JOB_TIMEOUT. Default 10 minutes. */
  jobTimeoutMs?: number;
}

/** Where inputs and results live between the API and the workers. */
export interface StoreOptions {
  /**
   * A folder for inputs and results. Default: a private temporary folder (mode 0700) made at
   * start and removed at close; with a Redis queue and no folder, files travel through Redis.
   * A folder given here is shared (every API and worker can mount it) and kept at close.
   */
  store?: string;
  /** How long results (and the job's record) are kept after the job ends. Default 1 hour. */
  resultTtlMs?: number;
}

export interface QueueConnectionOptions {
  /** `redis://[user:password@]HOST:PORT[/db]`: use BullMQ on this Redis. Absent: an in-process queue. */
  queue?: string;
  /** Prefix of every Redis key liverseg and BullMQ write, so several services can share one Redis. Default 'liverseg'. */
  queueName?: string;
  /**
   * BullMQ: how long a worker's lock on a running job lasts (it renews it at half that). A worker
   * that dies loses its jobs to another worker after about this long. Default 30 s.
   */
  lockDurationMs?: number;
  /** BullMQ: how often workers look for stalled jobs (whose worker died). Default: the lock duration. */
  stalledIntervalMs?: number;
  /** The biggest file that travels through Redis (without `store`). Default 256 MiB (Redis strings hold 512 MiB). */
  maxRedisBlobBytes?: number;
}

export interface ServerOptions extends StoreOptions, QueueConnectionOptions {
  /**
   * A pipeline or model bundle JSON. Required without `queue` (the service runs the jobs itself);
   * with `queue` it is optional: given, this process also works the queue (`concurrency` jobs).
   */
  model?: string;
  device?: string;
  /** Jobs this process runs at once (in-process queue, or the embedded worker with `queue` and `model`). Default 1; 0 with `queue` runs none. */
  concurrency?: number;
  jobTimeoutMs?: number;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Default '127.0.0.1': only this machine can connect unless told otherwise. */
  host?: string;
  /** The bearer token every route except the health checks and the viewer's static files requires. */
  token?: string;
  /** Largest upload in bytes (413 above). Default 2 GiB. */
  maxUploadBytes?: number;
  /** Largest number of files in one multipart upload (DICOM series). Default 5000. */
  maxUploadFiles?: number;
  /** Jobs that may wait in the queue; one more is refused with 429 and Retry-After. Default 16. */
  maxQueued?: number;
  /** SIGTERM / `close()`: how long to wait for running (and, in-process, queued) jobs. Default 2 minutes. */
  drainTimeoutMs?: number;
  /** fastify's logger: true (JSON lines on stdout), false (default) or pino options. */
  logger?: boolean | Record<string, unknown>;
}

export interface WorkerOptions extends RunnerOptions, StoreOptions, QueueConnectionOptions {
  queue: string;
  /** A name for this worker in job records and metrics. Default `<hostname>:<pid>`. */
  name?: string;
  /** SIGTERM / `close()`: how long to let running jobs finish before they are put back in the queue. Default 2 minutes. */
  drainTimeoutMs?: number;
}

export const DEFAULTS = {
  port: 8080,
  host: '127.0.0.1',
  concurrency: 1,
  jobTimeoutMs: 10 * 60_000,
  resultTtlMs: 60 * 60_000,
  maxUploadBytes: 2 * 1024 ** 3,
  maxUploadFiles: 5000,
  maxQueued: 16,
  drainTimeoutMs: 2 * 60_000,
  queueName: 'liverseg',
  lockDurationMs: 30_000,
  maxRedisBlobBytes: 256 * 1024 ** 2,
} as const;

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/** Bytes from "2GB", "512MiB", "100k" or "123" (binary units: 1 GB = 1024^3 bytes, as upload limits usually mean). */
export function parseSize(text: string, name = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) throw invalidArg(name, `expected a size such as 2GB, 500MB or 1048576, got ${JSON.stringify(text)}`);
  const v = Math.floor(Number(m[1]) * unit);
  if (!(v > 0)) throw invalidArg(name, `must be positive, got ${JSON.stringify(text)}`);
  return v;
}

const TIME_UNITS: Record<string, number> = { ms: 1, '': 1000, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds from "90s", "10m", "1h", "250ms" or a plain number of seconds. */
export function parseDuration(text: string, name = 'duration'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? TIME_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) throw invalidArg(name, `expected a duration such as 90s, 10m or 1h, got ${JSON.stringify(text)}`);
  const v = Math.round(Number(m[1]) * unit);
  if (!(v > 0)) throw invalidArg(name, `must be positive, got ${JSON.stringify(text)}`);
  return v;
}

export function checkPositiveInt(v: unknown, name: string, min = 1): number {
  if (!(typeof v === 'number' && Number.isInteger(v) && v >= min)) throw invalidArg(name, `expected an integer >= ${min}, got ${String(v)}`);
  return v;
}

/** The redis:// URL check every entry point shares (rediss:// for TLS is accepted too). */
export function checkRedisUrl(url: string, name = 'queue'): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalidArg(name, `expected redis://HOST:PORT, got ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw invalidArg(name, `expected a redis:// or rediss:// URL, got ${JSON.stringify(url)}`);
  return u;
}
