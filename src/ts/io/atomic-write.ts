/**
 * Writing a file so that readers see either the old file or the complete new one: the bytes go
 * to a temporary file in the same directory (rename is only atomic within one file system), are
 * flushed to disk, and the temporary file is renamed over the target. On any failure the
 * temporary file is removed and the target is untouched.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as nodePath from 'node:path';
import { fileError, LiversegError } from '../errors';

export interface AtomicWriteOptions {
  /** fsync the data before the rename, so a crash cannot leave an empty file behind. Default true. */
  fsync?: boolean;
}

/** Calls `write` with an open handle on a temporary file, then moves it into place at `path`. */
export async function writeFileAtomic(
  path: string,
  write: (fh: fsp.FileHandle) => Promise<void>,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const dir = nodePath.dirname(path);
  const tmp = nodePath.join(dir, `.${nodePath.basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
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
    const why = code === 'ENOENT' ? `directory ${dir} does not exist` : (e as Error)?.message ?? String(e);
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
