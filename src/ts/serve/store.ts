/**
 * Where a job's files live between the API that took the upload, the worker that runs it and the
 * API that serves the results: a folder (private by default, or shared by every API and worker
 * with `--store DIR`), or Redis (no shared folder needed; files are bounded in size).
 *
 * Paths are built only from a job id that has been checked to be a UUID and from file names of
 * a fixed list: no client string ever becomes part of a path.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Redis } from 'ioredis';
import { LiversegError } from '../errors';

/** UUID version 4, lower case, as `crypto.randomUUID()` makes them. */
export const JOB_ID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$';
const JOB_ID = new RegExp(JOB_ID_PATTERN);

/** The names files may have in a job's folder: inputs, results, and the expiry stamp. */
const FILE_NAME = /^(input-\d{1,5}|mask\.nii\.gz|seg\.dcm|preview\.png|stats\.json|ct\.nii\.gz)$/;

export function isJobId(id: unknown): id is string {
  return typeof id === 'string' && JOB_ID.test(id);
}

function checkNames(jobId: string, name?: string): void {
  // Internal invariant: the HTTP layer validates ids against the same pattern before they get here.
  if (!isJobId(jobId)) throw new LiversegError('ERR_INVALID_ARG', `not a job id: ${JSON.stringify(jobId)}`);
  if (name !== undefined && !FILE_NAME.test(name)) throw new LiversegError('ERR_INVALID_ARG', `not a job file name: ${JSON.stringify(name)}`);
}

export interface BlobStore {
  /** 'folder' or 'redis', for logs and readiness. */
  readonly kind: 'folder' | 'redis';
  /** A private folder of this process for uploads in progress and worker scratch files (mode 0700). */
  readonly scratch: string;
  /** Stores the file at `src` (taking it: `src` is gone afterwards) as the job's `name`, kept until `expiresAt` (ms since the epoch). */
  put(jobId: string, name: string, src: string, expiresAt: number): Promise<void>;
  /** Copies the job's `name` to the local file `dest`; false when there is no such file. */
  fetch(jobId: string, name: string, dest: string): Promise<boolean>;
  /** A stream of the job's `name` and its size, or null when absent. */
  open(jobId: string, name: string): Promise<{ stream: Readable; size: number } | null>;
  /** Moves the expiry of every file of the job. */
  touch(jobId: string, expiresAt: number): Promise<void>;
  /** Removes every file of the job. */
  remove(jobId: string): Promise<void>;
  /** Removes jobs whose expiry has passed (Redis expires its keys by itself). Returns how many. */
  sweep(now?: number): Promise<number>;
  close(): Promise<void>;
}

async function makePrivateDir(parent: string, prefix: string): Promise<string> {
  await fsp.mkdir(parent, { recursive: true, mode: 0o700 });
  return fsp.mkdtemp(nodePath.join(parent, prefix));
}

/** Removes a file we made, ignoring one that is already gone. */
export async function removeQuietly(path: string): Promise<void> {
  await fsp.rm(path, { force: true, recursive: true }).catch(() => undefined);
}

/**
 * Files in a folder: `<root>/<job id>/<name>`, each job's folder with an `expires` stamp. The
 * root is made with mode 0700; a temporary root (no folder given) is removed at close.
 */
export class FolderStore implements BlobStore {
  readonly kind = 'folder' as const;
  private constructor(
    readonly root: string,
    readonly scratch: string,
    private readonly temporary: boolean,
  ) {}

  static async create(dir?: string): Promise<FolderStore> {
    if (dir === undefined) {
      const root = await makePrivateDir(os.tmpdir(), 'liverseg-serve-');
      const scratch = nodePath.join(root, '.scratch');
      await fsp.mkdir(scratch, { mode: 0o700 });
      return new FolderStore(root, scratch, true);
    }
    const root = nodePath.resolve(dir);
    await fsp.mkdir(root, { recursive: true, mode: 0o700 });
    // Scratch inside the store (same file system: uploads are renamed into place, not copied).
    await fsp.mkdir(nodePath.join(root, '.scratch'), { recursive: true, mode: 0o700 });
    const scratch = await fsp.mkdtemp(nodePath.join(root, '.scratch', `${os.hostname().replace(/[^\w.-]/g, '_')}-${process.pid}-`));
    return new FolderStore(root, scratch, false);
  }

  private dir(jobId: string): string {
    checkNames(jobId);
    return nodePath.join(this.root, jobId);
  }

  async put(jobId: string, name: string, src: string, expiresAt: number): Promise<void> {
    checkNames(jobId, name);
    const dir = this.dir(jobId);
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    await fsp.writeFile(nodePath.join(dir, 'expires'), String(expiresAt), { mode: 0o600 });
    const dest = nodePath.join(dir, name);
    try {
      await fsp.rename(src, dest);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
      // Another file system: copy to a temporary name, then rename, so readers never see half a file.
      const tmp = `${dest}.${randomBytes(4).toString('hex')}.tmp`;
      await fsp.copyFile(src, tmp);
      await fsp.rename(tmp, dest);
      await removeQuietly(src);
    }
  }

  async fetch(jobId: string, name: string, dest: string): Promise<boolean> {
    checkNames(jobId, name);
    try {
      await fsp.copyFile(nodePath.join(this.dir(jobId), name), dest);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  async open(jobId: string, name: string): Promise<{ stream: Readable; size: number } | null> {
    checkNames(jobId, name);
    const p = nodePath.join(this.dir(jobId), name);
    const fh = await fsp.open(p, 'r').catch(() => null);
    if (!fh) return null;
    const { size } = await fh.stat();
    return { stream: fh.createReadStream(), size };
  }

  async touch(jobId: string, expiresAt: number): Promise<void> {
    const dir = this.dir(jobId);
    await fsp.writeFile(nodePath.join(dir, 'expires'), String(expiresAt), { mode: 0o600 }).catch(() => undefined);
  }

  async remove(jobId: string): Promise<void> {
    await removeQuietly(this.dir(jobId));
  }

  async sweep(now = Date.now()): Promise<number> {
    let removed = 0;
    for (const e of await fsp.readdir(this.root, { withFileTypes: true }).catch(() => [])) {
      if (!e.isDirectory() || !isJobId(e.name)) continue;
      const stamp = Number(await fsp.readFile(nodePath.join(this.root, e.name, 'expires'), 'utf8').catch(() => 'NaN'));
      if (Number.isFinite(stamp) && stamp < now) {
        await this.remove(e.name);
        removed++;
      }
    }
    return removed;
  }

  async close(): Promise<void> {
    await removeQuietly(this.temporary ? this.root : this.scratch);
  }
}

const CHUNK = 1 << 20;

/**
 * Files as Redis strings (`<prefix>:file:<job id>:<name>`), written and read in 1 MiB pieces so
 * neither side holds a whole CT in memory, each key expiring with its job. Files above
 * `maxBytes` are refused (ERR_INVALID_ARG, answered 413 at upload); use a shared folder for those.
 */
export class RedisStore implements BlobStore {
  readonly kind = 'redis' as const;
  private constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly scratch: string,
    readonly maxBytes: number,
  ) {}

  static async create(redis: Redis, prefix: string, maxBytes: number): Promise<RedisStore> {
    return new RedisStore(redis, prefix, await makePrivateDir(os.tmpdir(), 'liverseg-scratch-'), maxBytes);
  }

  private key(jobId: string, name: string): string {
    checkNames(jobId, name);
    return `${this.prefix}:file:${jobId}:${name}`;
  }

  private index(jobId: string): string {
    checkNames(jobId);
    return `${this.prefix}:files:${jobId}`;
  }

  async put(jobId: string, name: string, src: string, expiresAt: number): Promise<void> {
    const key = this.key(jobId, name);
    const { size } = await fsp.stat(src);
    if (size > this.maxBytes) {
      throw new LiversegError(
        'ERR_INVALID_ARG',
        `${name} is ${size} bytes, more than the ${this.maxBytes} that may travel through Redis; give the API and workers a shared --store folder`,
      );
    }
    const tmpKey = `${key}:${randomBytes(4).toString('hex')}.tmp`;
    const ttl = Math.max(1000, expiresAt - Date.now());
    try {
      await this.redis.set(tmpKey, '', 'PX', ttl);
      for await (const chunk of createReadStream(src, { highWaterMark: CHUNK })) await this.redis.append(tmpKey, chunk as Buffer);
      // Readers see the whole file or none of it (a worker that dies half-way leaves only the temporary key, which expires).
      await this.redis.multi().rename(tmpKey, key).pexpire(key, ttl).sadd(this.index(jobId), name).pexpire(this.index(jobId), ttl).exec();
    } catch (e) {
      await this.redis.del(tmpKey).catch(() => undefined);
      throw e;
    }
    await removeQuietly(src);
  }

  async fetch(jobId: string, name: string, dest: string): Promise<boolean> {
    const opened = await this.open(jobId, name);
    if (!opened) return false;
    await pipeline(opened.stream, createWriteStream(dest, { mode: 0o600 }));
    return true;
  }

  async open(jobId: string, name: string): Promise<{ stream: Readable; size: number } | null> {
    const key = this.key(jobId, name);
    const size = await this.redis.strlen(key);
    if (size === 0 && !(await this.redis.exists(key))) return null;
    const redis = this.redis;
    async function* chunks(): AsyncGenerator<Buffer> {
      for (let off = 0; off < size; off += CHUNK) {
        const part = await redis.getrangeBuffer(key, off, Math.min(size, off + CHUNK) - 1);
        if (part.length === 0) throw new LiversegError('ERR_IO', `${name} of job ${jobId} expired while it was being read`);
        yield part;
      }
    }
    return { stream: Readable.from(chunks()), size };
  }

  async touch(jobId: string, expiresAt: number): Promise<void> {
    const ttl = Math.max(1000, expiresAt - Date.now());
    const names = await this.redis.smembers(this.index(jobId));
    const m = this.redis.multi().pexpire(this.index(jobId), ttl);
    for (const n of names) if (FILE_NAME.test(n)) m.pexpire(this.key(jobId, n), ttl);
    await m.exec();
  }

  async remove(jobId: string): Promise<void> {
    const names = await this.redis.smembers(this.index(jobId));
    const keys = names.filter((n) => FILE_NAME.test(n)).map((n) => this.key(jobId, n));
    await this.redis.del(this.index(jobId), ...keys);
  }

  async sweep(): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {
    await removeQuietly(this.scratch);
  }
}
