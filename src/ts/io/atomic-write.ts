/**
 * Writing a file so that readers see either the old file or the complete new one: the bytes go
 * to a temporary file in the same directory (rename is only atomic within one file system), are
 * flushed to disk, and the temporary file is renamed over the target. On any failure the
 * temporary file is removed and the target is untouched.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as nodePath from 'node:path';
import { fileError, LiversegError } from '../errors';
import type { LiversegErrorCode } from '../errors';
import { readRegularFile } from './regular-file';

export interface AtomicWriteOptions {
  /** fsync the data before the rename, so a crash cannot leave an empty file behind. Default true. */
  fsync?: boolean;
}

/** The temporary name of a write to `base` by process `pid`: `.<base>.<pid>.<12 hex>.tmp`. */
function tempName(base: string, pid: number): string {
  return `.${base}.${pid}.${randomBytes(6).toString('hex')}.tmp`;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temporary files that earlier writes of `base` in `dir` left behind because their
 * process was killed mid-write (the name records the writer's pid; a live writer's file is left).
 */
export async function removeStaleTemps(dir: string, base: string): Promise<number> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return 0;
  }
  const prefix = `.${base}.`;
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const m = /^(\d+)\.[0-9a-f]{12}\.tmp$/.exec(name.slice(prefix.length));
    if (!m || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
    await fsp.unlink(nodePath.join(dir, name)).then(
      () => removed++,
      () => undefined,
    );
  }
  return removed;
}

/** Calls `write` with an open handle on a temporary file, then moves it into place at `path`. */
export async function writeFileAtomic(path: string, write: (fh: fsp.FileHandle) => Promise<void>, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = nodePath.dirname(path);
  const base = nodePath.basename(path);
  await removeStaleTemps(dir, base);
  const tmp = nodePath.join(dir, tempName(base, process.pid));
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(tmp, 'wx');
    await write(fh);
    if (options.fsync !== false) await fh.sync();
    await fh.close();
    fh = undefined;
    await fsp.rename(tmp, path);
  } catch (e) {
    if (fh) await fh.close().catch(() => undefined);
    await fsp.unlink(tmp).catch(() => undefined);
    if (e instanceof LiversegError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? `directory ${dir} does not exist` : code === 'ENOSPC' ? 'the disk is full' : ((e as Error)?.message ?? String(e));
    throw fileError('ERR_IO', path, `write failed: ${why}`, e);
  }
}

/** Writes all of `data` at the handle's current position (write() may write less than asked). */
export async function writeAll(fh: fsp.FileHandle, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const { bytesWritten } = await fh.write(data, off, Math.min(data.length - off, 1 << 30));
    if (bytesWritten <= 0) throw new Error('write returned no progress');
    off += bytesWritten;
  }
}

/** Writes bytes atomically to `path`. */
export async function writeBytesAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await writeFileAtomic(path, (fh) => writeAll(fh, bytes));
}

/** Writes a value as pretty-printed JSON, atomically. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeBytesAtomic(path, Buffer.from(JSON.stringify(value, null, 2) + '\n'));
}

export function sha256(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** A file written by {@link writeContentAddressed}: its name (in the folder it was written to) and its digest. */
export interface ContentAddressedFile {
  name: string;
  sha256: string;
}

/**
 * Writes `bytes` atomically as `<dir>/<stem>.<first 12 hex digits of its SHA-256><ext>`. Content
 * addressing is what makes a bundle or checkpoint save crash-safe: the new file never overwrites
 * the one the current JSON names, so the JSON can be replaced atomically afterwards and the old
 * file removed last (see {@link removeReplaced}).
 */
export async function writeContentAddressed(dir: string, stem: string, ext: string, bytes: Uint8Array): Promise<ContentAddressedFile> {
  const digest = sha256(bytes);
  const name = `${stem}.${digest.slice(0, 12)}${ext}`;
  await writeBytesAtomic(nodePath.join(dir, name), bytes);
  return { name, sha256: digest };
}

/**
 * Reads a file a JSON named, checking it against the digest recorded beside its name. `owner` is
 * the JSON file, which error messages name with the file.
 */
export async function readVerified(path: string, expectedSha256: string | undefined, owner: string, code: LiversegErrorCode = 'ERR_BUNDLE'): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readRegularFile(path);
  } catch (e) {
    throw fileError(code, owner, `the file it names cannot be read: ${(e as Error).message}`, e);
  }
  if (expectedSha256 && sha256(bytes) !== expectedSha256) {
    throw fileError(code, path, `the file is corrupt (its SHA-256 does not match the one recorded in ${owner})`);
  }
  return bytes;
}

/** After a content-addressed save: removes the files the previous JSON named that the new one no longer does. */
export async function removeReplaced(dir: string, previous: Array<string | undefined>, current: string[]): Promise<void> {
  for (const old of previous) {
    // Only plain names in the same folder: a JSON is never trusted to point a delete elsewhere.
    if (!old || current.includes(old) || old !== nodePath.basename(old)) continue;
    await fsp.unlink(nodePath.join(dir, old)).catch(() => undefined);
  }
}
