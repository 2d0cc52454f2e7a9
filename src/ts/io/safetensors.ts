/**
 * The safetensors format (as published by Hugging Face): an 8-byte little-endian unsigned
 * header length N, N bytes of JSON, then the raw tensor bytes. The JSON maps each tensor name to
 * `{ dtype, shape, data_offsets: [begin, end] }` (offsets relative to the start of the data) and
 * may hold `__metadata__`, a string-to-string map. Loading runs no code, which is why liverseg
 * prefers it for model weights.
 */
import * as os from 'node:os';
import { readRegularFile } from './regular-file';
import { fileError, invalidArg, LiversegError } from '../errors';
import { writeAll, writeFileAtomic } from './atomic-write';

export type SafetensorsDtype = 'BOOL' | 'U8' | 'I8' | 'U16' | 'I16' | 'F16' | 'BF16' | 'U32' | 'I32' | 'F32' | 'U64' | 'I64' | 'F64' | 'F8_E4M3' | 'F8_E5M2';

export type TensorArray =
  Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array | BigUint64Array | BigInt64Array;

export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  /** Row-major (C order) dimensions, as in PyTorch. An empty shape is a scalar. */
  shape: number[];
  /**
   * Little-endian element bytes. On write: any typed array or Buffer of the right byte length
   * (F16 and BF16 are raw 16-bit patterns, e.g. a Uint16Array). On read: the natural typed array
   * for the dtype (Uint16Array for F16/BF16, Uint8Array for BOOL and the F8 types).
   */
  data: TensorArray | Buffer;
}

export interface SafetensorsFile {
  tensors: Record<string, SafetensorsTensor & { data: TensorArray }>;
  metadata: Record<string, string>;
}

type ArrayCtor = { new (buffer: ArrayBuffer, byteOffset: number, length: number): TensorArray; BYTES_PER_ELEMENT: number };

const DTYPES: Record<SafetensorsDtype, { bytes: number; array: ArrayCtor }> = {
  BOOL: { bytes: 1, array: Uint8Array },
  U8: { bytes: 1, array: Uint8Array },
  I8: { bytes: 1, array: Int8Array },
  F8_E4M3: { bytes: 1, array: Uint8Array },
  F8_E5M2: { bytes: 1, array: Uint8Array },
  U16: { bytes: 2, array: Uint16Array },
  I16: { bytes: 2, array: Int16Array },
  F16: { bytes: 2, array: Uint16Array },
  BF16: { bytes: 2, array: Uint16Array },
  U32: { bytes: 4, array: Uint32Array },
  I32: { bytes: 4, array: Int32Array },
  F32: { bytes: 4, array: Float32Array },
  U64: { bytes: 8, array: BigUint64Array },
  I64: { bytes: 8, array: BigInt64Array },
  F64: { bytes: 8, array: Float64Array },
};

/** The reference implementation refuses headers above 100 MB; so do we, before allocating one. */
const MAX_HEADER_BYTES = 100_000_000;
const MACHINE_LE = os.endianness() === 'LE';

function isDtype(x: unknown): x is SafetensorsDtype {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, x);
}

function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function swapCopy(bytes: Uint8Array, width: number): Buffer {
  const b = Buffer.from(bytes);
  if (width === 2) b.swap16();
  else if (width === 4) b.swap32();
  else if (width === 8) b.swap64();
  return b;
}

/**
 * Writes tensors (and optional string metadata) as a safetensors file, atomically (temporary
 * file in the same directory, then rename). Tensors are laid out largest element size first,
 * then by name, so that with the 8-byte-aligned header every tensor starts on a multiple of its
 * element size and readers can view it without copying. Throws ERR_INVALID_ARG for an unknown
 * dtype, a bad shape, a data length that does not match dtype and shape, or non-string metadata.
 */
export async function writeSafetensors(path: string, tensors: Record<string, SafetensorsTensor>, metadata?: Record<string, string>): Promise<void> {
  const { header, parts } = encodeSafetensorsParts(tensors, metadata);
  await writeFileAtomic(path, async (fh) => {
    await writeAll(fh, header);
    for (const p of parts) await writeAll(fh, p);
  });
}

/** The whole file as one Buffer (for tests and in-memory use). */
export function encodeSafetensors(tensors: Record<string, SafetensorsTensor>, metadata?: Record<string, string>): Buffer {
  const { header, parts } = encodeSafetensorsParts(tensors, metadata);
  return Buffer.concat([header, ...parts]);
}

function encodeSafetensorsParts(tensors: Record<string, SafetensorsTensor>, metadata?: Record<string, string>): { header: Buffer; parts: Uint8Array[] } {
  if (tensors === null || typeof tensors !== 'object') throw invalidArg('tensors', 'expected an object of name -> { dtype, shape, data }');
  const entries = Object.entries(tensors).map(([name, t]) => {
    if (name === '__metadata__') throw invalidArg('tensors', "'__metadata__' is reserved for metadata");
    if (t === null || typeof t !== 'object') throw invalidArg(`tensors.${name}`, 'expected { dtype, shape, data }');
    if (!isDtype(t.dtype)) throw invalidArg(`tensors.${name}.dtype`, `unknown dtype ${String(t.dtype)}`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw invalidArg(`tensors.${name}.shape`, 'expected an array of non-negative integers');
    }
    if (!ArrayBuffer.isView(t.data) || t.data instanceof DataView) throw invalidArg(`tensors.${name}.data`, 'expected a typed array or Buffer');
    const width = DTYPES[t.dtype].bytes;
    const expected = numel(t.shape) * width;
    if (t.data.byteLength !== expected) {
      throw invalidArg(`tensors.${name}.data`, `has ${t.data.byteLength} bytes but ${t.dtype} [${t.shape.join(', ')}] needs ${expected}`, 'ERR_SHAPE_MISMATCH');
    }
    let bytes: Uint8Array = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const elementWidth = (t.data as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
    if (!MACHINE_LE && elementWidth > 1) bytes = swapCopy(bytes, elementWidth);
    return { name, dtype: t.dtype, shape: [...t.shape], bytes, width };
  });
  entries.sort((a, b) => b.width - a.width || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const json: Record<string, unknown> = {};
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object' || !Object.values(metadata).every((v) => typeof v === 'string')) {
      throw invalidArg('metadata', 'expected an object of string -> string');
    }
    json.__metadata__ = { ...metadata };
  }
  let offset = 0;
  for (const e of entries) {
    json[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + e.bytes.length] };
    offset += e.bytes.length;
  }
  const text = Buffer.from(JSON.stringify(json), 'utf8');
  const padded = Math.ceil(text.length / 8) * 8;
  const header = Buffer.alloc(8 + padded, 0x20);
  header.writeBigUInt64LE(BigInt(padded), 0);
  text.copy(header, 8);
  return { header, parts: entries.map((e) => e.bytes) };
}

/**
 * Reads a safetensors file. Every tensor's data is its own typed array (viewed over the file's
 * buffer when aligned, copied when not). Validation follows the reference implementation:
 * the header length fits the file, the header is a JSON object, each entry has a known dtype, a
 * shape of non-negative integers and `data_offsets` whose length matches dtype x shape, the
 * tensors tile the data area exactly (in bounds, no overlaps, no gaps, nothing left over), and
 * `__metadata__` (if present) maps strings to strings. Any failure is ERR_SAFETENSORS naming the
 * file; a missing file is ERR_FILE_NOT_FOUND.
 */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  return decodeSafetensors(await readRegularFile(path, 'safetensors file'), path);
}

/** Parses safetensors bytes already in memory; `name` is used in error messages. */
export function decodeSafetensors(buf: Uint8Array, name = '<buffer>'): SafetensorsFile {
  const bad = (problem: string): LiversegError => fileError('ERR_SAFETENSORS', name, `invalid safetensors file: ${problem}`);
  if (buf.length < 8) throw bad(`file is ${buf.length} bytes, too short for the 8-byte header length`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = dv.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw bad(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const headerLen = Number(n);
  if (8 + headerLen > buf.length) throw bad(`header length ${headerLen} runs past the end of the file (${buf.length} bytes)`);
  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + headerLen));
    if (!text.startsWith('{')) throw new Error('header does not start with "{"');
    header = JSON.parse(text);
  } catch (e) {
    throw fileError('ERR_SAFETENSORS', name, `invalid safetensors file: header is not valid UTF-8 JSON (${(e as Error).message})`, e);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw bad('header is not a JSON object');

  const dataStart = 8 + headerLen;
  const dataLen = buf.length - dataStart;
  const metadata: Record<string, string> = {};
  const parsed: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [key, value] of Object.entries(header as Record<string, unknown>)) {
    if (key === '__metadata__') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad('__metadata__ is not an object');
      for (const [mk, mv] of Object.entries(value as Record<string, unknown>)) {
        if (typeof mv !== 'string') throw bad(`__metadata__.${mk} is not a string`);
        metadata[mk] = mv;
      }
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad(`entry ${JSON.stringify(key)} is not an object`);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (!isDtype(dtype)) throw bad(`tensor ${JSON.stringify(key)} has unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw bad(`tensor ${JSON.stringify(key)} has an invalid shape`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      throw bad(`tensor ${JSON.stringify(key)} has invalid data_offsets`);
    }
    const [begin, end] = offsets as number[];
    if (end > dataLen) throw bad(`tensor ${JSON.stringify(key)} data_offsets [${begin}, ${end}] run past the data (${dataLen} bytes)`);
    const count = numel(shape as number[]);
    if (!Number.isSafeInteger(count) || count * DTYPES[dtype].bytes !== end - begin) {
      throw bad(`tensor ${JSON.stringify(key)} has ${end - begin} bytes but ${dtype} [${(shape as number[]).join(', ')}] needs ${count * DTYPES[dtype].bytes}`);
    }
    parsed.push({ name: key, dtype, shape: shape as number[], begin, end });
  }
  const byOffset = [...parsed].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const t of byOffset) {
    if (t.begin < cursor) throw bad(`tensor ${JSON.stringify(t.name)} overlaps the tensor before it`);
    if (t.begin > cursor) throw bad(`gap in the data before tensor ${JSON.stringify(t.name)} (bytes ${cursor}..${t.begin})`);
    cursor = t.end;
  }
  if (cursor !== dataLen) throw bad(`the tensors cover ${cursor} of the ${dataLen} data bytes`);

  const tensors: SafetensorsFile['tensors'] = {};
  for (const t of parsed) {
    const { bytes: width, array } = DTYPES[t.dtype];
    const abs = buf.byteOffset + dataStart + t.begin;
    const count = (t.end - t.begin) / width;
    let data: TensorArray;
    if (abs % width === 0 && MACHINE_LE) {
      data = new array(buf.buffer as ArrayBuffer, abs, count);
    } else {
      const copy = MACHINE_LE
        ? Buffer.from(buf.subarray(dataStart + t.begin, dataStart + t.end))
        : swapCopy(buf.subarray(dataStart + t.begin, dataStart + t.end), width);
      const own = new ArrayBuffer(copy.length);
      new Uint8Array(own).set(copy);
      data = new array(own, 0, count);
    }
    tensors[t.name] = { dtype: t.dtype, shape: [...t.shape], data };
  }
  return { tensors, metadata };
}
