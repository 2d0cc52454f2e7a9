/**
 * Zip archives of DICOM files, through yauzl. A zip is opened once and its entries are read (and
 * re-read) on demand, so only one entry is inflated at a time. Guards against zip bombs, checked
 * before inflating anything: the declared size of each entry (maxFileBytes), the sum of the
 * declared sizes (maxTotalBytes, which also catches archives whose entries overlap), the number of
 * entries (maxFiles); and yauzl's `validateEntrySizes` stops an entry that inflates past the size
 * it declared. Zips inside the zip are not opened (they are skipped like any non-DICOM file).
 */
import type { Readable } from 'node:stream';
import * as yauzl from 'yauzl';
import { fileError, LiversegError } from '../../errors';
import { fmtBytes, ResolvedLimits } from './limits';
import type { DicomEntry, SkippedFile } from './sources';

export const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
/** An empty archive starts with the end-of-central-directory record. */
const EMPTY_ZIP_MAGIC = [0x50, 0x4b, 0x05, 0x06];

export function isZip(head: Uint8Array): boolean {
  const starts = (m: number[]): boolean => head.length >= 4 && m.every((b, i) => head[i] === b);
  return starts(ZIP_MAGIC) || starts(EMPTY_ZIP_MAGIC);
}

function zipError(source: string, e: unknown): LiversegError {
  if (e instanceof LiversegError) return e;
  return fileError('ERR_DICOM_ZIP', source, `not a readable zip archive: ${(e as Error)?.message ?? String(e)}`, e);
}

const OPTIONS: yauzl.Options = { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: false, decodeStrings: true };

function openZip(source: string | Buffer): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    const cb = (err: Error | null, zf?: yauzl.ZipFile): void => (err || !zf ? reject(err ?? new Error('no zip file')) : resolve(zf));
    if (typeof source === 'string') yauzl.open(source, OPTIONS, cb);
    else yauzl.fromBuffer(source, OPTIONS, cb);
  });
}

/**
 * Reads a stream into one Buffer, failing past `cap` bytes. The stream is always read to its end:
 * destroying a yauzl stream while a read is queued makes yauzl's fd-slicer throw from a callback.
 */
async function collect(stream: Readable, cap: number, name: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  let tooLarge = false;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (tooLarge) continue;
    got += chunk.length;
    if (got > cap) {
      tooLarge = true;
      chunks.length = 0;
      continue;
    }
    chunks.push(chunk);
  }
  if (tooLarge) throw fileError('ERR_DICOM_TOO_LARGE', name, `inflates to more than ${fmtBytes(cap)}`);
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, got);
}

export interface OpenedZip {
  entries: DicomEntry[];
  skipped: SkippedFile[];
  close(): void;
}

/** Lists a zip's file entries, refusing archives whose declared sizes break the limits. */
export async function openZipSource(source: string | Buffer, name: string, limits: ResolvedLimits): Promise<OpenedZip> {
  let zf: yauzl.ZipFile;
  try {
    zf = await openZip(source);
  } catch (e) {
    throw zipError(name, e);
  }
  const close = (): void => {
    if (zf.isOpen) zf.close();
  };
  try {
    if (zf.entryCount > limits.maxFiles) {
      throw fileError('ERR_DICOM_TOO_LARGE', name, `has ${zf.entryCount} entries, more than maxFiles (${limits.maxFiles})`);
    }
    const entries: DicomEntry[] = [];
    const skipped: SkippedFile[] = [];
    let declared = 0;
    await new Promise<void>((resolve, reject) => {
      zf.on('error', reject);
      zf.on('end', () => resolve());
      zf.on('entry', (entry: yauzl.Entry) => {
        try {
          const entryName = `${name}:${entry.fileName}`;
          if (entry.fileName.endsWith('/')) {
            zf.readEntry();
            return;
          }
          if (entry.isEncrypted() || !entry.canDecodeFileData()) {
            skipped.push({
              file: entryName,
              reason: entry.isEncrypted() ? 'encrypted zip entry' : `unsupported zip compression method ${entry.compressionMethod}`,
            });
            zf.readEntry();
            return;
          }
          if (entry.uncompressedSize > limits.maxFileBytes) {
            throw fileError(
              'ERR_DICOM_TOO_LARGE',
              entryName,
              `declares ${fmtBytes(entry.uncompressedSize)} uncompressed, more than maxFileBytes (${fmtBytes(limits.maxFileBytes)})`,
            );
          }
          declared += entry.uncompressedSize;
          if (declared > limits.maxTotalBytes) {
            throw fileError(
              'ERR_DICOM_TOO_LARGE',
              name,
              `its entries declare more than ${fmtBytes(limits.maxTotalBytes)} uncompressed (maxTotalBytes): refused as a possible zip bomb`,
            );
          }
          const size = entry.uncompressedSize;
          const read = (): Promise<Buffer> =>
            new Promise<Readable>((res, rej) => zf.openReadStream(entry, (err, stream) => (err ? rej(err) : res(stream))))
              .then((stream) => collect(stream, size, entryName))
              .catch((e) => Promise.reject(zipError(entryName, e)));
          // An entry can only be inflated from its start and must be read to its end, so its "head" is all of it.
          entries.push({ name: entryName, size, read, readHead: read });
          zf.readEntry();
        } catch (e) {
          reject(e);
        }
      });
      zf.readEntry();
    });
    return { entries, skipped, close };
  } catch (e) {
    close();
    throw zipError(name, e);
  }
}
