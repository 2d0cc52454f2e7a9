/**
 * Pixel data to stored values, one frame at a time, for every transfer syntax liverseg reads:
 * native (implicit / explicit little endian, explicit big endian, deflated once inflated), RLE
 * (PS3.5 Annex G, implemented here: no maintained JavaScript package decodes it), and the
 * compressed syntaxes through the WebAssembly builds of the reference codecs that the Cornerstone
 * project publishes (OpenJPEG for JPEG 2000, CharLS for JPEG-LS, libjpeg-turbo for JPEG baseline)
 * and jpeg-lossless-decoder-js for JPEG lossless (process 14). The WebAssembly binaries load from
 * node_modules; nothing is fetched.
 *
 * Before a codec runs, the image size in its code stream header is compared with Rows x Columns,
 * so a damaged or hostile stream cannot make a codec allocate gigabytes. This file has no liverseg
 * imports besides errors, so the decode worker can load it on its own.
 */
import { promises as fsp } from 'node:fs';
import { LiversegError } from '../../errors';

/** What a frame's decoder needs to know, taken from the instance's attributes. */
export interface FrameFormat {
  transferSyntaxUid: string;
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  pixelRepresentation: number;
}

/** Stored values of one frame, row by row (Rows x Columns samples). */
export type StoredFrame = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array;

export type CodecName = 'native' | 'rle' | 'openjpeg' | 'charls' | 'libjpeg-turbo' | 'jpeg-lossless';

/** Transfer syntaxes liverseg decodes, with the codec each uses. */
export const TRANSFER_SYNTAXES: Record<string, { name: string; codec: CodecName }> = {
  '1.2.840.10008.1.2': { name: 'Implicit VR Little Endian', codec: 'native' },
  '1.2.840.10008.1.2.1': { name: 'Explicit VR Little Endian', codec: 'native' },
  '1.2.840.10008.1.2.1.99': { name: 'Deflated Explicit VR Little Endian', codec: 'native' },
  '1.2.840.10008.1.2.2': { name: 'Explicit VR Big Endian', codec: 'native' },
  '1.2.840.10008.1.2.5': { name: 'RLE Lossless', codec: 'rle' },
  '1.2.840.10008.1.2.4.50': { name: 'JPEG Baseline (Process 1)', codec: 'libjpeg-turbo' },
  '1.2.840.10008.1.2.4.51': { name: 'JPEG Extended (Process 2 & 4), 8-bit only', codec: 'libjpeg-turbo' },
  '1.2.840.10008.1.2.4.57': { name: 'JPEG Lossless, Non-Hierarchical (Process 14)', codec: 'jpeg-lossless' },
  '1.2.840.10008.1.2.4.70': { name: 'JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14, SV1)', codec: 'jpeg-lossless' },
  '1.2.840.10008.1.2.4.80': { name: 'JPEG-LS Lossless', codec: 'charls' },
  '1.2.840.10008.1.2.4.81': { name: 'JPEG-LS Lossy (Near-Lossless)', codec: 'charls' },
  '1.2.840.10008.1.2.4.90': { name: 'JPEG 2000 Lossless Only', codec: 'openjpeg' },
  '1.2.840.10008.1.2.4.91': { name: 'JPEG 2000', codec: 'openjpeg' },
};

export const BIG_ENDIAN_TS = '1.2.840.10008.1.2.2';

/** A decode failure; the caller adds the file name. */
export class FrameError extends Error {
  constructor(
    readonly code: 'ERR_DICOM_PIXEL_DATA' | 'ERR_DICOM_TRANSFER_SYNTAX',
    message: string,
  ) {
    super(message);
  }
}

function frameSamples(f: FrameFormat): number {
  return f.rows * f.columns * f.samplesPerPixel;
}

/** Native (uncompressed) frame `index` of the pixel data: copied out, in the machine's byte order. */
export function decodeNative(pixelData: Uint8Array, f: FrameFormat, index: number): StoredFrame {
  const n = frameSamples(f);
  const bytesPer = f.bitsAllocated / 8;
  if (![8, 16, 32].includes(f.bitsAllocated)) throw new FrameError('ERR_DICOM_PIXEL_DATA', `BitsAllocated ${f.bitsAllocated} is not supported for images`);
  const start = index * n * bytesPer;
  const end = start + n * bytesPer;
  if (end > pixelData.length) {
    throw new FrameError(
      'ERR_DICOM_PIXEL_DATA',
      `pixel data has ${pixelData.length} bytes but frame ${index + 1} of ${f.rows}x${f.columns} needs bytes ${start}..${end}`,
    );
  }
  const bytes = pixelData.slice(start, end);
  if (bytesPer > 1 && f.transferSyntaxUid === BIG_ENDIAN_TS) {
    const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytesPer === 2) b.swap16();
    else b.swap32();
  }
  const signed = f.pixelRepresentation === 1;
  if (bytesPer === 1) return signed ? new Int8Array(bytes.buffer) : bytes;
  if (bytesPer === 2) return signed ? new Int16Array(bytes.buffer) : new Uint16Array(bytes.buffer);
  return signed ? new Int32Array(bytes.buffer) : new Uint32Array(bytes.buffer);
}

/** PS3.5 Annex G: a 64-byte header of segment offsets, then one PackBits segment per byte plane (most significant first). */
export function decodeRle(frame: Uint8Array, f: FrameFormat): StoredFrame {
  const bytesPer = f.bitsAllocated / 8;
  if (![1, 2, 4].includes(bytesPer)) throw new FrameError('ERR_DICOM_PIXEL_DATA', `BitsAllocated ${f.bitsAllocated} is not supported in RLE`);
  const pixels = f.rows * f.columns;
  const planes = bytesPer * f.samplesPerPixel;
  if (frame.length < 64) throw new FrameError('ERR_DICOM_PIXEL_DATA', 'RLE frame shorter than its 64-byte header');
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const count = view.getUint32(0, true);
  if (count !== planes) throw new FrameError('ERR_DICOM_PIXEL_DATA', `RLE frame has ${count} segments, expected ${planes}`);
  const offsets: number[] = [];
  for (let s = 0; s < count; s++) offsets.push(view.getUint32(4 + 4 * s, true));
  offsets.push(frame.length);
  const out = new Uint8Array(pixels * planes);
  for (let s = 0; s < count; s++) {
    const from = offsets[s];
    const to = offsets[s + 1];
    if (from < 64 || to < from || to > frame.length) throw new FrameError('ERR_DICOM_PIXEL_DATA', `RLE segment ${s + 1} has impossible offsets ${from}..${to}`);
    // Segment s holds byte (bytesPer - 1 - s % bytesPer) of sample s / bytesPer, little-endian in `out`.
    const sample = Math.floor(s / bytesPer);
    const byte = bytesPer - 1 - (s % bytesPer);
    const stride = planes;
    let o = sample * bytesPer + byte;
    let written = 0;
    let p = from;
    while (p < to && written < pixels) {
      const h = frame[p++];
      if (h < 128) {
        const len = h + 1;
        if (p + len > to) throw new FrameError('ERR_DICOM_PIXEL_DATA', `RLE segment ${s + 1} ends inside a literal run`);
        for (let i = 0; i < len && written < pixels; i++, written++, o += stride) out[o] = frame[p + i];
        p += len;
      } else if (h > 128) {
        const len = 257 - h;
        const v = frame[p++];
        for (let i = 0; i < len && written < pixels; i++, written++, o += stride) out[o] = v;
      }
      // 128 is a no-op.
    }
    if (written < pixels) throw new FrameError('ERR_DICOM_PIXEL_DATA', `RLE segment ${s + 1} decodes to ${written} of ${pixels} bytes`);
  }
  const signed = f.pixelRepresentation === 1;
  if (bytesPer === 1) return signed ? new Int8Array(out.buffer) : out;
  if (bytesPer === 2) return signed ? new Int16Array(out.buffer) : new Uint16Array(out.buffer);
  return signed ? new Int32Array(out.buffer) : new Uint32Array(out.buffer);
}

/** Width and height from a JPEG (SOFn) or JPEG-LS (SOF55) header, or null when there is none. */
export function jpegSize(b: Uint8Array): { width: number; height: number } | null {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return null;
  let p = 2;
  while (p + 9 < b.length) {
    if (b[p] !== 0xff) return null;
    const m = b[p + 1];
    if (m === 0xff) {
      p++;
      continue;
    }
    const len = (b[p + 2] << 8) | b[p + 3];
    const isSof = (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) || m === 0xf7;
    if (isSof) return { height: (b[p + 5] << 8) | b[p + 6], width: (b[p + 7] << 8) | b[p + 8] };
    if (m === 0xda) return null;
    p += 2 + len;
  }
  return null;
}

/** Width and height from a JPEG 2000 code stream's SIZ marker (or a JP2 file's), or null. */
export function j2kSize(b: Uint8Array): { width: number; height: number } | null {
  let p = -1;
  for (let i = 0; i + 1 < Math.min(b.length, 1 << 16); i++) {
    if (b[i] === 0xff && b[i + 1] === 0x4f && b[i + 2] === 0xff && b[i + 3] === 0x51) {
      p = i + 4;
      break;
    }
  }
  if (p < 0 || p + 22 > b.length) return null;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const xsiz = v.getUint32(p + 4);
  const ysiz = v.getUint32(p + 8);
  const xo = v.getUint32(p + 12);
  const yo = v.getUint32(p + 16);
  return { width: xsiz - xo, height: ysiz - yo };
}

// ---- WebAssembly codecs ------------------------------------------------------------------------

interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  readHeader?(): void;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned: boolean };
  delete(): void;
}
type WasmModule = Record<string, new () => WasmDecoder>;

const WASM: Record<'openjpeg' | 'charls' | 'libjpeg-turbo', { pkg: string; cls: string }> = {
  openjpeg: { pkg: '@cornerstonejs/codec-openjpeg', cls: 'J2KDecoder' },
  charls: { pkg: '@cornerstonejs/codec-charls', cls: 'JpegLSDecoder' },
  'libjpeg-turbo': { pkg: '@cornerstonejs/codec-libjpeg-turbo-8bit', cls: 'JPEGDecoder' },
};

const modules = new Map<string, Promise<WasmModule>>();

function loadWasm(codec: keyof typeof WASM): Promise<WasmModule> {
  let m = modules.get(codec);
  if (!m) {
    const { pkg } = WASM[codec];
    m = (async () => {
      // The decode-only builds; the .wasm is read from node_modules and handed over, so the glue never fetches.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const factory = require(`${pkg}/decodewasmjs`) as (o: object) => Promise<WasmModule>;
      const wasmBinary = await fsp.readFile(require.resolve(`${pkg}/decodewasm`));
      const noop = (): void => undefined;
      return factory({ wasmBinary, print: noop, printErr: noop });
    })();
    modules.set(codec, m);
    m.catch(() => modules.delete(codec));
  }
  return m;
}

function checkSize(size: { width: number; height: number } | null, f: FrameFormat, what: string): void {
  if (!size) throw new FrameError('ERR_DICOM_PIXEL_DATA', `no ${what} header in the frame`);
  if (size.width !== f.columns || size.height !== f.rows) {
    throw new FrameError('ERR_DICOM_PIXEL_DATA', `${what} stream is ${size.width}x${size.height} but Columns x Rows is ${f.columns}x${f.rows}`);
  }
}

/**
 * A copy of decoded bytes, as a typed array over `into` when that is large enough (a recycled
 * buffer: no allocation per frame), else over a new buffer. The copy is always a plain Uint8Array
 * underneath (libjpeg-turbo hands a Uint8ClampedArray).
 */
function typed(bytes: Uint8Array, bits: number, signed: boolean, into?: ArrayBuffer): StoredFrame {
  const buf = into && into.byteLength >= bytes.length ? into : new ArrayBuffer(bytes.length);
  new Uint8Array(buf, 0, bytes.length).set(bytes);
  if (bits <= 8) return signed ? new Int8Array(buf, 0, bytes.length) : new Uint8Array(buf, 0, bytes.length);
  return signed ? new Int16Array(buf, 0, bytes.length / 2) : new Uint16Array(buf, 0, bytes.length / 2);
}

/** The same values over `into` when it is large enough (see {@link typed}). */
function moveInto(out: StoredFrame, into?: ArrayBuffer): StoredFrame {
  if (!into || into.byteLength < out.byteLength) return out;
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  const bits = out.BYTES_PER_ELEMENT * 8;
  return bits === 32 ? out : typed(bytes, bits, out instanceof Int8Array || out instanceof Int16Array, into);
}

async function decodeWasm(codec: keyof typeof WASM, frame: Uint8Array, f: FrameFormat, into?: ArrayBuffer): Promise<StoredFrame> {
  checkSize(codec === 'openjpeg' ? j2kSize(frame) : jpegSize(frame), f, codec === 'openjpeg' ? 'JPEG 2000' : codec === 'charls' ? 'JPEG-LS' : 'JPEG');
  if (codec === 'libjpeg-turbo' && f.bitsAllocated !== 8) {
    throw new FrameError('ERR_DICOM_TRANSFER_SYNTAX', `JPEG with BitsAllocated ${f.bitsAllocated} is not supported (only 8-bit JPEG baseline/extended)`);
  }
  const mod = await loadWasm(codec);
  let dec: WasmDecoder | undefined;
  try {
    dec = new mod[WASM[codec].cls]();
    dec.getEncodedBuffer(frame.length).set(frame);
    dec.decode();
    const info = dec.getFrameInfo();
    if (info.width !== f.columns || info.height !== f.rows || info.componentCount !== f.samplesPerPixel) {
      throw new FrameError(
        'ERR_DICOM_PIXEL_DATA',
        `decoded frame is ${info.width}x${info.height}x${info.componentCount}, expected ${f.columns}x${f.rows}x${f.samplesPerPixel}`,
      );
    }
    // The codec's own signedness can disagree with PixelRepresentation; the stored bits are what count.
    return typed(dec.getDecodedBuffer(), info.bitsPerSample, f.pixelRepresentation === 1, into);
  } catch (e) {
    if (e instanceof FrameError) throw e;
    // A WebAssembly abort can leave the module unusable: load a fresh one next time.
    modules.delete(codec);
    const msg = e instanceof Error ? e.message : typeof e === 'number' ? `codec error ${e}` : String(e);
    throw new FrameError('ERR_DICOM_PIXEL_DATA', `${codec} could not decode the frame: ${msg}`);
  } finally {
    try {
      dec?.delete();
    } catch {
      // the module aborted; nothing to free
    }
  }
}

function decodeJpegLossless(frame: Uint8Array, f: FrameFormat): StoredFrame {
  checkSize(jpegSize(frame), f, 'JPEG lossless');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Decoder } = require('jpeg-lossless-decoder-js') as {
    Decoder: new () => { decode(buf: ArrayBuffer, offset: number, length: number, numBytes?: number): Uint8Array | Uint16Array; numComp: number };
  };
  const bytesPer = f.bitsAllocated <= 8 ? 1 : 2;
  let out: Uint8Array | Uint16Array;
  try {
    const dec = new Decoder();
    const copy = frame.slice();
    out = dec.decode(copy.buffer, 0, copy.length, bytesPer);
  } catch (e) {
    throw new FrameError('ERR_DICOM_PIXEL_DATA', `JPEG lossless stream could not be decoded: ${(e as Error)?.message ?? String(e)}`);
  }
  if (out.length !== frameSamples(f))
    throw new FrameError('ERR_DICOM_PIXEL_DATA', `JPEG lossless frame decoded to ${out.length} samples, expected ${frameSamples(f)}`);
  const signed = f.pixelRepresentation === 1;
  if (out instanceof Uint8Array) return signed ? new Int8Array(out.buffer, out.byteOffset, out.length) : out;
  return signed ? new Int16Array(out.buffer, out.byteOffset, out.length) : out;
}

/** Decodes one encapsulated frame (all its fragments joined), into `into` when given and large enough. */
export async function decodeEncapsulated(frame: Uint8Array, f: FrameFormat, into?: ArrayBuffer): Promise<StoredFrame> {
  const ts = TRANSFER_SYNTAXES[f.transferSyntaxUid];
  if (!ts) throw new FrameError('ERR_DICOM_TRANSFER_SYNTAX', `transfer syntax ${f.transferSyntaxUid} is not supported`);
  switch (ts.codec) {
    case 'rle':
      return moveInto(decodeRle(frame, f), into);
    case 'jpeg-lossless':
      return moveInto(decodeJpegLossless(frame, f), into);
    case 'openjpeg':
    case 'charls':
    case 'libjpeg-turbo':
      return decodeWasm(ts.codec, frame, f, into);
    default:
      throw new FrameError('ERR_DICOM_TRANSFER_SYNTAX', `transfer syntax ${f.transferSyntaxUid} is not encapsulated`);
  }
}

/** A FrameError with the file named, as the LiversegError callers see. */
export function frameErrorToLiverseg(e: unknown, file: string): LiversegError {
  if (e instanceof LiversegError) return e;
  if (e instanceof FrameError) return new LiversegError(e.code, `${file}: ${e.message}`, { path: file, cause: e });
  return new LiversegError('ERR_DICOM_PIXEL_DATA', `${file}: pixel data could not be decoded: ${(e as Error)?.message ?? String(e)}`, { path: file, cause: e });
}
