/**
 * Reading NIfTI-1 and NIfTI-2 volumes, plain or gzipped.
 *
 * Memory plan: the voxels land in one ArrayBuffer of exactly the body's size, allocated once the
 * header is known, and the typed array is a view over it (so it is always aligned and the native
 * side can wrap it as is). A plain file is read straight into that buffer; a gzipped one is
 * streamed through Node's zlib (its work runs on the libuv thread pool, off the JS thread) and
 * each inflated chunk is copied into place. This is why we stream rather than call
 * `zlib.gunzip`: the one-shot call gathers every chunk and then concatenates them, briefly
 * holding the body twice, and it cannot see the header (to enforce `maxVoxels`) before it has
 * inflated everything.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { fileError, LiversegError } from '../errors';
import type { Volume, VoxelArray } from '../volume';
import { openRegularFile } from './regular-file';
import { NIFTI2_HEADER_SIZE, ParsedNiftiHeader, parseNiftiHeader, sniffNifti } from './nifti-header';
import type { LoadDicomSeriesOptions } from './dicom/series';

/** Options for {@link loadVolume}: `maxVoxels` for NIfTI files, and the DICOM options for DICOM sources. */
export interface LoadVolumeOptions extends LoadDicomSeriesOptions {
  /**
   * Refuse files with more voxels than this (ERR_NIFTI_TOO_LARGE), checked from the header before
   * anything large is allocated or inflated. Default 2**31.
   */
  maxVoxels?: number;
}

/** Options for {@link decodeNifti}: as for files, plus the name to put in error messages. */
export interface DecodeNiftiOptions extends LoadVolumeOptions {
  /** Used in error messages in place of a path. Default `'<buffer>'`. */
  name?: string;
}

const DEFAULT_MAX_VOXELS = 2 ** 31;
const MACHINE_LE = os.endianness() === 'LE';
const STREAM_CHUNK = 1 << 20;
/**
 * Deflate cannot expand data by more than about 1032:1, so a gzip file of n bytes cannot hold
 * more than this many times n. Checking the header's size against it stops a tiny damaged file
 * from making us allocate gigabytes before the stream runs dry.
 */
const MAX_DEFLATE_RATIO = 1040;
/** Bytes after the voxels that a gzipped file may carry (some writers pad); more is refused. */
const GZIP_TRAILING_SLACK = 1 << 16;

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function checkMaxVoxels(v: number | undefined): number {
  if (v === undefined) return DEFAULT_MAX_VOXELS;
  if (!(typeof v === 'number' && v > 0)) {
    throw new LiversegError('ERR_INVALID_ARG', `Invalid argument 'options.maxVoxels': expected a positive number, got ${String(v)}`);
  }
  return v;
}

function allocateBody(h: ParsedNiftiHeader, source: string): Uint8Array {
  try {
    return new Uint8Array(new ArrayBuffer(h.bodyBytes));
  } catch (e) {
    throw fileError('ERR_NIFTI_TOO_LARGE', source, `cannot allocate ${h.bodyBytes} bytes for its voxels`, e);
  }
}

/** Turns a filled body into the Volume: byte order, typed view, scaling. */
/** Voxels scaled between yields to the event loop. */
const SCALE_CHUNK = 1 << 20;

async function finishVolume(h: ParsedNiftiHeader, body: Uint8Array): Promise<Volume> {
  if (h.littleEndian !== MACHINE_LE && h.datatype.bytes > 1) {
    const b = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    if (h.datatype.bytes === 2) b.swap16();
    else if (h.datatype.bytes === 4) b.swap32();
    else b.swap64();
  }
  const raw: VoxelArray = new h.datatype.array(body.buffer as ArrayBuffer, body.byteOffset, h.voxels);
  let data: VoxelArray = raw;
  if (h.scaling) {
    // Float64 stays float64 so scaling does not cost precision; everything else becomes float32.
    const out = raw instanceof Float64Array ? new Float64Array(h.voxels) : new Float32Array(h.voxels);
    const { slope, inter } = h.scaling;
    // In chunks, so a 100-million-voxel file does not hold the event loop for a second.
    for (let start = 0; start < out.length; start += SCALE_CHUNK) {
      const end = Math.min(out.length, start + SCALE_CHUNK);
      for (let i = start; i < end; i++) out[i] = raw[i] * slope + inter;
      if (end < out.length) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    data = out;
  }
  return {
    data,
    shape: [...h.shape],
    spacing: [...h.spacing],
    affine: h.affine.map((r) => [...r]),
    header: h.geometry,
  };
}

/**
 * Receives the (inflated) bytes of a NIfTI file in chunks, parses the header as soon as it is
 * complete, and copies the voxels into their own buffer.
 */
class NiftiAssembler {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private header: ParsedNiftiHeader | null = null;
  private body: Uint8Array | null = null;
  /** Stream position of the next byte to arrive. */
  private pos = 0;
  private filled = 0;

  constructor(
    private readonly source: string,
    private readonly maxVoxels: number,
    /** The most bytes this stream can possibly produce. */
    private readonly maxStreamBytes: number,
  ) {}

  push(chunk: Buffer): void {
    if (this.header === null) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < 4) return;
      const joined = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
      this.pending = [joined];
      const sniff = sniffNifti(joined);
      if (!sniff) throw fileError('ERR_NIFTI_MAGIC', this.source, 'not a NIfTI file (sizeof_hdr is neither 348 nor 540)');
      if (joined.length < sniff.headerSize) return;
      const h = parseNiftiHeader(joined, this.source, this.maxVoxels);
      if (h.voxOffset + h.bodyBytes > this.maxStreamBytes) {
        throw fileError('ERR_NIFTI_TRUNCATED', this.source, `header describes ${h.voxOffset + h.bodyBytes} bytes, more than a gzip file of this size can hold`);
      }
      this.header = h;
      this.body = allocateBody(h, this.source);
      this.pending = [];
      this.pendingBytes = 0;
      this.place(joined);
      return;
    }
    this.place(chunk);
  }

  private place(chunk: Buffer): void {
    const h = this.header as ParsedNiftiHeader;
    const body = this.body as Uint8Array;
    const start = this.pos;
    const end = start + chunk.length;
    this.pos = end;
    const bodyStart = h.voxOffset;
    const bodyEnd = h.voxOffset + h.bodyBytes;
    const from = Math.max(start, bodyStart);
    const to = Math.min(end, bodyEnd);
    if (to > from) {
      body.set(chunk.subarray(from - start, to - start), from - bodyStart);
      this.filled += to - from;
    }
    if (end > bodyEnd + GZIP_TRAILING_SLACK) {
      throw fileError('ERR_NIFTI_TOO_LARGE', this.source, `inflates to more than the ${bodyEnd} bytes its header describes`);
    }
  }

  finish(): Promise<Volume> {
    const h = this.header;
    if (h === null) {
      const joined = Buffer.concat(this.pending);
      // Parsing what there is gives the precise error (not NIfTI / header cut short).
      parseNiftiHeader(joined, this.source, this.maxVoxels);
      throw fileError('ERR_NIFTI_TRUNCATED', this.source, 'file ends inside the header');
    }
    if (this.pos < h.voxOffset) {
      throw fileError('ERR_NIFTI_HEADER', this.source, `vox_offset = ${h.voxOffset} is beyond the end of the data (${this.pos} bytes)`);
    }
    if (this.filled < h.bodyBytes) {
      throw fileError(
        'ERR_NIFTI_TRUNCATED',
        this.source,
        `voxel data is truncated: ${this.filled} of ${h.bodyBytes} bytes (${h.shape.join('x')} ${h.datatype.name})`,
      );
    }
    return finishVolume(h, this.body as Uint8Array);
  }
}

function mapStreamError(e: unknown, source: string): LiversegError {
  if (e instanceof LiversegError) return e;
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'string' && (code.startsWith('Z_') || code.startsWith('ERR_ZLIB'))) {
    return fileError('ERR_NIFTI_GZIP', source, `corrupt or truncated gzip data (${(e as Error).message})`, e);
  }
  return fileError('ERR_IO', source, `read failed: ${(e as Error)?.message ?? String(e)}`, e);
}

async function inflateNifti(input: Readable, compressedBytes: number, source: string, maxVoxels: number): Promise<Volume> {
  const asm = new NiftiAssembler(source, maxVoxels, compressedBytes * MAX_DEFLATE_RATIO + (1 << 20));
  const gunzip = zlib.createGunzip({ chunkSize: STREAM_CHUNK });
  // pipeline() can reject with a secondary error (an AbortError from tearing down the file
  // stream) instead of the one that started it, so the causes we can name are recorded here.
  let parseError: unknown;
  let zlibError: unknown;
  gunzip.once('error', (e) => {
    zlibError ??= e;
  });
  try {
    await pipeline(input, gunzip, async (chunks: AsyncIterable<Buffer>) => {
      try {
        for await (const chunk of chunks) asm.push(chunk);
      } catch (e) {
        parseError = e;
        throw e;
      }
    });
  } catch (e) {
    throw mapStreamError(parseError ?? zlibError ?? e, source);
  }
  return asm.finish();
}

/**
 * Decodes a NIfTI file already in memory (plain or gzipped, told apart by the gzip magic bytes),
 * with the same checks and errors as {@link loadVolume}. The Volume never shares memory with
 * `bytes`.
 */
export async function decodeNifti(bytes: Uint8Array, options: DecodeNiftiOptions = {}): Promise<Volume> {
  const source = options.name ?? '<buffer>';
  const maxVoxels = checkMaxVoxels(options.maxVoxels);
  if (!(bytes instanceof Uint8Array)) {
    throw new LiversegError('ERR_INVALID_ARG', `Invalid argument 'bytes': expected a Buffer or Uint8Array`);
  }
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isGzip(buf)) return inflateNifti(Readable.from([buf], { objectMode: false }), buf.length, source, maxVoxels);
  const h = parseNiftiHeader(buf, source, maxVoxels);
  checkPlainSize(h, buf.length, source);
  const body = allocateBody(h, source);
  body.set(buf.subarray(h.voxOffset, h.voxOffset + h.bodyBytes));
  return finishVolume(h, body);
}

function checkPlainSize(h: ParsedNiftiHeader, size: number, source: string): void {
  if (h.voxOffset > size) {
    throw fileError('ERR_NIFTI_HEADER', source, `vox_offset = ${h.voxOffset} is beyond the end of the file (${size} bytes)`);
  }
  if (h.voxOffset + h.bodyBytes > size) {
    throw fileError(
      'ERR_NIFTI_TRUNCATED',
      source,
      `voxel data is truncated: ${size - h.voxOffset} of ${h.bodyBytes} bytes (${h.shape.join('x')} ${h.datatype.name})`,
    );
  }
}

/**
 * Reads a NIfTI-1 or NIfTI-2 file (`.nii`, or gzipped `.nii.gz`; gzip is recognised by its magic
 * bytes, not the name) into a {@link Volume}. `loadVolume` (load-volume.ts) calls this for NIfTI
 * paths and reads DICOM sources itself.
 *
 * - Data keeps the file's type (int16 stays `Int16Array`, and so on for uint8, int8, uint16,
 *   int32, uint32, float32, float64), in file order (i fastest), converted to the machine's byte
 *   order. When the header asks for scaling (scl_slope finite and non-zero, and not slope 1 with
 *   intercept 0), `data` is `raw * slope + inter` as `Float32Array` (`Float64Array` for float64
 *   files).
 * - `affine` comes from the sform when sform_code > 0, else the qform (quaternion; qfac from
 *   pixdim[0]) when qform_code > 0, else diag(pixdim[1..3]). `spacing` is pixdim[1..3].
 * - A 4D file with a single time point is read as 3D; a 2D file as one slice.
 * - `header` holds the file's geometry fields, so a mask can be written back in the same
 *   geometry (see `saveVolume`, `maskLike`).
 * - NaN and infinite voxels in float files are kept as they are: reading reports the file
 *   faithfully, and the training and inference entry points reject them with ERR_NON_FINITE.
 *   Use {@link countNonFinite} to check a volume yourself.
 *
 * Rejects with a LiversegError whose message starts with the path: ERR_FILE_NOT_FOUND, ERR_IO,
 * ERR_NIFTI_GZIP (corrupt or truncated gzip), ERR_NIFTI_MAGIC (not NIfTI, or a .hdr/.img pair),
 * ERR_NIFTI_HEADER (impossible values: dims, pixdim, vox_offset, transforms), ERR_NIFTI_DATATYPE
 * (complex, RGB, 64-bit integers, ...), ERR_NIFTI_DIMS (time series or higher dimensions),
 * ERR_NIFTI_TRUNCATED (less data than the header describes) or ERR_NIFTI_TOO_LARGE (over
 * `maxVoxels`, or a gzip stream that inflates far past the described size).
 */
export async function loadNiftiFile(path: string, options: LoadVolumeOptions = {}): Promise<Volume> {
  if (typeof path !== 'string' || path.length === 0) {
    throw new LiversegError('ERR_INVALID_ARG', `Invalid argument 'path': expected a non-empty string`);
  }
  const maxVoxels = checkMaxVoxels(options.maxVoxels);
  const { fh, size } = await openRegularFile(path, 'NIfTI file');
  let handedOff = false;
  try {
    let first: Buffer;
    try {
      first = Buffer.alloc(Math.min(size, NIFTI2_HEADER_SIZE));
      await readFully(fh, first, 0);
    } catch (e) {
      throw mapStreamError(e, path);
    }
    if (isGzip(first)) {
      handedOff = true;
      const stream = fh.createReadStream({ start: 0, highWaterMark: STREAM_CHUNK, autoClose: true });
      return await inflateNifti(stream, size, path, maxVoxels);
    }
    const h = parseNiftiHeader(first, path, maxVoxels);
    checkPlainSize(h, size, path);
    const body = allocateBody(h, path);
    let got: number;
    try {
      got = await readFully(fh, body, h.voxOffset);
    } catch (e) {
      throw mapStreamError(e, path);
    }
    if (got < h.bodyBytes) {
      // The file shrank between stat and read.
      throw fileError('ERR_NIFTI_TRUNCATED', path, `voxel data is truncated: ${got} of ${h.bodyBytes} bytes`);
    }
    return finishVolume(h, body);
  } finally {
    if (!handedOff) await fh.close().catch(() => undefined);
  }
}

/** Reads until `into` is full or the file ends; returns the bytes read. */
async function readFully(fh: fsp.FileHandle, into: Uint8Array, position: number): Promise<number> {
  let off = 0;
  while (off < into.length) {
    // Large reads are split: a single read() is capped near 2 GiB by the OS.
    const want = Math.min(into.length - off, 1 << 30);
    const { bytesRead } = await fh.read(into, off, want, position + off);
    if (bytesRead === 0) break;
    off += bytesRead;
  }
  return off;
}

// loadVolume reads NIfTI files and DICOM sources; it lives in load-volume.ts and is re-exported
// here, where callers have always imported it from.
export { loadVolume } from './load-volume';
export type { VolumeSource } from './load-volume';
