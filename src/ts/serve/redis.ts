/** Redis connections and the key names liverseg keeps beside BullMQ's. */
import { Redis } from 'ioredis';
import { LiversegError } from '../errors';
import { checkRedisUrl } from './options';

/** BullMQ's queue name; its keys are `<prefix>:jobs:*`. */
export const BULL_QUEUE = 'jobs';

export interface RedisKeys {
  prefix: string;
  /** Pub/sub channel on which the API asks workers to stop a job. */
  cancelChannel: string;
  /** `cancelled:<id>`: a job cancelled by a client (its record, JSON), so workers and APIs agree. */
  cancelled(id: string): string;
  /** `worker:<name>`: a worker's heartbeat (JSON), expiring when it stops beating. */
  worker(name: string): string;
  workerPattern: string;
}

export function redisKeys(prefix: string): RedisKeys {
  return {
    prefix,
    cancelChannel: `${prefix}:cancel`,
    cancelled: (id) => `${prefix}:cancelled:${id}`,
    worker: (name) => `${prefix}:worker:${name}`,
    workerPattern: `${prefix}:worker:*`,
  };
}

/**
 * A connection for BullMQ and for liverseg's own keys. `maxRetriesPerRequest: null` is what BullMQ
 * workers need (they block on Redis); commands wait for a reconnect rather than fail.
 */
export function connectRedis(url: string, name: string): Redis {
  checkRedisUrl(url);
  return new Redis(url, { maxRetriesPerRequest: null, connectionName: name, lazyConnect: false });
}

/** Resolves once the connection answers PING, or fails with a clear message after `timeoutMs`. */
export async function waitForRedis(redis: Redis, url: string, timeoutMs = 10_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new LiversegError('ERR_IO', `cannot reach Redis at ${redactUrl(url)} (no answer within ${timeoutMs / 1000} s)`)),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The URL without its password, for logs and messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}

/** Every key matching `pattern` (SCAN, so Redis is never blocked). */
export async function scanKeys(redis: Redis, pattern: string, limit = 10_000): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 200);
    out.push(...keys);
    cursor = next;
  } while (cursor !== '0' && out.length < limit);
  return out;
}

/** A worker's heartbeat, as workers write it and the API reads it (metrics, readiness). */
export interface WorkerHeartbeat {
  name: string;
  host: string;
  pid: number;
  model: string;
  startedAt: number;
  at: number;
  running: number;
  done: number;
  failed: number;
  cancelled: number;
  memory: { rss: number; heapUsed: number; external: number; nativeAllocated: number; nativeReserved: number };
}

export async function readHeartbeats(redis: Redis, keys: RedisKeys): Promise<WorkerHeartbeat[]> {
  const names = await scanKeys(redis, keys.workerPattern, 1000);
  if (names.length === 0) return [];
  const values = await redis.mget(...names);
  const out: WorkerHeartbeat[] = [];
  for (const v of values) {
    if (!v) continue;
    try {
      out.push(JSON.parse(v) as WorkerHeartbeat);
    } catch {
      // a value from something else: ignore
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
