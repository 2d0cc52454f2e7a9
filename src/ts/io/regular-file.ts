/**
 * Opening files we read: only regular files. A FIFO given as a path would block the libuv
 * thread that opens it until some writer appears, and four such opens fill the thread pool that
 * every file read, zlib stream and native call of the process needs. Opening with O_NONBLOCK
 * returns at once for a FIFO (and changes nothing for a regular file), and fstat then tells
 * what it is, so nothing of ours waits on a pipe, a socket or a device.
 */
import { constants, promises as fsp } from 'node:fs';
import { fileError, LiversegError } from '../errors';

const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

function kindOf(st: import('node:fs').Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** Opens `path` for reading when it is a regular file; `what` names the file in messages ("NIfTI file"). */
export async function openRegularFile(path: string, what = 'file'): Promise<{ fh: fsp.FileHandle; size: number }> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, OPEN_FLAGS);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw fileError('ERR_FILE_NOT_FOUND', path, 'no such file', e);
    if (code === 'EISDIR') throw fileError('ERR_IO', path, `is a folder, not a ${what}`, e);
    throw fileError('ERR_IO', path, `cannot open: ${(e as Error).message}`, e);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw fileError('ERR_IO', path, `is ${kindOf(st)}, not a ${what}`);
    return { fh, size: st.size };
  } catch (e) {
    await fh.close().catch(() => undefined);
    if (e instanceof LiversegError) throw e;
    throw fileError('ERR_IO', path, `cannot read: ${(e as Error).message}`, e);
  }
}

/** The whole contents of a regular file. */
export async function readRegularFile(path: string, what = 'file'): Promise<Buffer> {
  const { fh } = await openRegularFile(path, what);
  try {
    return await fh.readFile();
  } catch (e) {
    throw fileError('ERR_IO', path, `cannot read: ${(e as Error).message}`, e);
  } finally {
    await fh.close().catch(() => undefined);
  }
}
