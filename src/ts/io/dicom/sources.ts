/**
 * What a DICOM series can be read from, reduced to one list of entries that can each be read (in
 * full, or just their first bytes): a folder (searched recursively, symbolic links followed once),
 * a .zip (recognised by its magic bytes, not its name), one file, a list of files and folders, or
 * Buffers (each a DICOM file or a zip).
 */
import { promises as fsp } from 'node:fs';
import * as nodePath from 'node:path';
import { describeValue, fileError, invalidArg, LiversegError } from '../../errors';
import { openRegularFile, readRegularFile } from '../regular-file';
import { fmtBytes, ResolvedLimits } from './limits';
import { isZip, openZipSource } from './zip';

/** A folder, a .zip file, a single DICOM file, a list of files / folders / Buffers, or one Buffer (a DICOM file or a zip). */
export type DicomSource = string | Uint8Array | ReadonlyArray<string | Uint8Array>;

export interface DicomEntry {
  /** The path, `zip:entry`, or `<buffer N>`: what error messages and `dicom.slices[k].file` name. */
  name: string;
  size: number;
  read(): Promise<Buffer>;
  /** At least the first `n` bytes (all of them when the entry is shorter, or cannot be read in part). */
  readHead(n: number): Promise<Buffer>;
}

export interface SkippedFile {
  file: string;
  reason: string;
}

export interface OpenedSource {
  entries: DicomEntry[];
  skipped: SkippedFile[];
  /** Releases open archives. Safe to call more than once. */
  close(): void;
}

/** True for the values {@link openSource} accepts, so callers can tell a DICOM source from a Volume. */
export function isDicomSource(v: unknown): v is DicomSource {
  if (typeof v === 'string' || v instanceof Uint8Array) return true;
  return Array.isArray(v) && v.every((x) => typeof x === 'string' || x instanceof Uint8Array);
}

function ioError(path: string, e: unknown): LiversegError {
  if (e instanceof LiversegError) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return fileError('ERR_FILE_NOT_FOUND', path, 'no such file or folder', e);
  return fileError('ERR_IO', path, `cannot read: ${(e as Error)?.message ?? String(e)}`, e);
}

function fileEntry(path: string, size: number): DicomEntry {
  return {
    name: path,
    size,
    read: () => readRegularFile(path, 'DICOM file'),
    readHead: async (n: number) => {
      const { fh } = await openRegularFile(path, 'DICOM file');
      try {
        const buf = Buffer.alloc(Math.min(n, size));
        const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
        return buf.subarray(0, bytesRead);
      } catch (e) {
        throw ioError(path, e);
      } finally {
        await fh.close().catch(() => undefined);
      }
    },
  };
}

function bufferEntry(bytes: Uint8Array, name: string): DicomEntry {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { name, size: buf.length, read: async () => buf, readHead: async (n: number) => buf.subarray(0, n) };
}

async function readMagic(path: string): Promise<Buffer> {
  return fileEntry(path, 4).readHead(4);
}

/** Opens a source and lists its entries (files in a folder are listed in sorted path order). */
export async function openSource(source: DicomSource, limits: ResolvedLimits): Promise<OpenedSource> {
  if (!isDicomSource(source)) throw invalidArg('source', `expected a folder, a .zip, a file, a list of files or Buffers, got ${describeValue(source)}`);
  const list = typeof source === 'string' || source instanceof Uint8Array ? [source] : source;
  if (list.length === 0) throw invalidArg('source', 'the list of files is empty');
  const out: OpenedSource = { entries: [], skipped: [], close: () => undefined };
  const closers: Array<() => void> = [];
  out.close = () => {
    for (const c of closers.splice(0)) c();
  };
  const visited = new Set<string>();
  const tooMany = (where: string): LiversegError => fileError('ERR_DICOM_TOO_LARGE', where, `holds more than maxFiles (${limits.maxFiles}) files`);

  const addZip = async (zipSource: string | Buffer, name: string): Promise<void> => {
    const zip = await openZipSource(zipSource, name, limits);
    closers.push(zip.close);
    out.entries.push(...zip.entries);
    out.skipped.push(...zip.skipped);
    if (out.entries.length > limits.maxFiles) throw tooMany(name);
  };

  const walk = async (dir: string): Promise<void> => {
    let real: string;
    try {
      real = await fsp.realpath(dir);
    } catch (e) {
      throw ioError(dir, e);
    }
    if (visited.has(real)) return;
    visited.add(real);
    let names: string[];
    try {
      names = (await fsp.readdir(dir)).sort();
    } catch (e) {
      throw ioError(dir, e);
    }
    for (const n of names) {
      const p = nodePath.join(dir, n);
      let st;
      try {
        st = await fsp.stat(p);
      } catch {
        out.skipped.push({ file: p, reason: 'cannot be read (broken link or no permission)' });
        continue;
      }
      if (st.isDirectory()) await walk(p);
      else if (st.isFile()) {
        if (st.size > limits.maxFileBytes) out.skipped.push({ file: p, reason: `larger than maxFileBytes (${fmtBytes(limits.maxFileBytes)})` });
        else out.entries.push(fileEntry(p, st.size));
        if (out.entries.length > limits.maxFiles) throw tooMany(dir);
      }
    }
  };

  try {
    for (const [idx, item] of list.entries()) {
      if (item instanceof Uint8Array) {
        const name = `<buffer ${idx}>`;
        if (isZip(item)) await addZip(Buffer.from(item.buffer, item.byteOffset, item.byteLength), name);
        else out.entries.push(bufferEntry(item, name));
        continue;
      }
      if (typeof item !== 'string' || item.length === 0)
        throw invalidArg(`source[${idx}]`, `expected a non-empty path or a Buffer, got ${describeValue(item)}`);
      let st;
      try {
        st = await fsp.stat(item);
      } catch (e) {
        throw ioError(item, e);
      }
      if (st.isDirectory()) await walk(item);
      else if (!st.isFile()) throw fileError('ERR_IO', item, 'is not a regular file, a folder or a zip');
      else if (isZip(await readMagic(item))) await addZip(item, item);
      else if (st.size > limits.maxFileBytes) throw fileError('ERR_DICOM_TOO_LARGE', item, `is larger than maxFileBytes (${fmtBytes(limits.maxFileBytes)})`);
      else out.entries.push(fileEntry(item, st.size));
    }
    if (out.entries.length > limits.maxFiles) throw tooMany(typeof source === 'string' ? source : '<source>');
  } catch (e) {
    out.close();
    throw e;
  }
  return out;
}
