/**
 * Reading one DICOM Part 10 file with dcmjs: the attributes a CT volume is built from, and (on a
 * second, full read) its pixel data as dcmjs delivers it (one buffer for native data; frames or
 * fragments for encapsulated data). Any failure inside dcmjs becomes ERR_DICOM_PARSE naming the
 * file. Deflated files are inflated here with Node's zlib, capped at maxFileBytes, rather than by
 * dcmjs, which would inflate without a limit.
 */
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import * as dcmjs from 'dcmjs';
import { fileError, LiversegError } from '../../errors';
import type { Vec3 } from '../../volume';
import { fmtBytes, ResolvedLimits } from './limits';

// dcmjs's validation logger prints a line for every attribute of implicit VR files whose VR depends
// on context (US or SS, OB or OW); the errors that matter reach us as exceptions. Only that logger
// is quietened: dcmjs's main logger is the shared loglevel root, which is not ours to change.
dcmjs.log.getLogger('validation.dcmjs').setLevel('silent');

const inflateRaw = promisify(zlib.inflateRaw);

export const TS = {
  implicitLE: '1.2.840.10008.1.2',
  explicitLE: '1.2.840.10008.1.2.1',
  deflatedLE: '1.2.840.10008.1.2.1.99',
  explicitBE: '1.2.840.10008.1.2.2',
} as const;

/** Bytes of header that are enough for almost every file's attributes before PixelData. */
export const HEAD_BYTES = 64 * 1024;

export function isPart10(head: Uint8Array): boolean {
  return head.length >= 132 && head[128] === 0x44 && head[129] === 0x49 && head[130] === 0x43 && head[131] === 0x4d;
}

/** The attributes of one image instance that liverseg uses. Strings are trimmed; absent ones are ''. */
export interface InstanceHeader {
  file: string;
  transferSyntaxUid: string;
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  frameOfReferenceUid: string;
  modality: string;
  seriesNumber: string;
  seriesDescription: string;
  seriesDate: string;
  seriesTime: string;
  imageType: string[];
  acquisitionNumber: number | null;
  instanceNumber: number | null;
  rows: number;
  columns: number;
  numberOfFrames: number;
  samplesPerPixel: number;
  photometricInterpretation: string;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  pixelRepresentation: number;
  /** [row spacing, column spacing] */
  pixelSpacing: [number, number] | null;
  imageOrientationPatient: number[] | null;
  imagePositionPatient: Vec3 | null;
  sliceThickness: number | null;
  gantryTilt: number;
  rescaleSlope: number;
  rescaleIntercept: number;
  hasPixelData: boolean;
  patient: { name: string; id: string; birthDate: string; sex: string };
  study: { date: string; time: string; id: string; accessionNumber: string; description: string; referringPhysicianName: string };
  manufacturer: string;
  bodyPartExamined: string;
}

/** A data set as dcmjs delivers it: elements keyed by tag (8 upper-case hex digits). Declared here so no .d.ts of ours names dcmjs. */
export type DcmjsDict = Record<string, { vr: string; Value?: unknown[] }>;

export interface ParsedFile {
  header: InstanceHeader;
  dict: DcmjsDict;
  meta: DcmjsDict;
}

function values(dict: DcmjsDict, tag: string): unknown[] {
  const v = dict[tag]?.Value;
  return Array.isArray(v) ? v : [];
}

function str(dict: DcmjsDict, tag: string): string {
  const v = values(dict, tag)[0];
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') {
    // PN values come as { Alphabetic, Ideographic, Phonetic }.
    const pn = v as { Alphabetic?: string };
    return typeof pn.Alphabetic === 'string' ? pn.Alphabetic.trim() : '';
  }
  return String(v).replace(/\0+$/, '').trim();
}

function strs(dict: DcmjsDict, tag: string): string[] {
  return values(dict, tag).map((v) => (v === null || v === undefined ? '' : String(v).trim()));
}

function num(dict: DcmjsDict, tag: string): number | null {
  const v = values(dict, tag)[0];
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : null;
}

function nums(dict: DcmjsDict, tag: string, count: number): number[] | null {
  const v = values(dict, tag).map((x) => (typeof x === 'number' ? x : typeof x === 'string' && x.trim() !== '' ? Number(x) : NaN));
  return v.length === count && v.every(Number.isFinite) ? v : null;
}

/** The attributes of a parsed dataset, with the meta header as fallback for the SOP Class. */
export function readHeader(dict: DcmjsDict, meta: DcmjsDict, file: string): InstanceHeader {
  const bitsAllocated = num(dict, '00280100') ?? 0;
  const spacing = nums(dict, '00280030', 2);
  const ipp = nums(dict, '00200032', 3);
  return {
    file,
    transferSyntaxUid: str(meta, '00020010'),
    sopClassUid: str(dict, '00080016') || str(meta, '00020002'),
    sopInstanceUid: str(dict, '00080018'),
    studyInstanceUid: str(dict, '0020000D'),
    seriesInstanceUid: str(dict, '0020000E'),
    frameOfReferenceUid: str(dict, '00200052'),
    modality: str(dict, '00080060'),
    seriesNumber: str(dict, '00200011'),
    seriesDescription: str(dict, '0008103E'),
    seriesDate: str(dict, '00080021'),
    seriesTime: str(dict, '00080031'),
    imageType: strs(dict, '00080008').map((s) => s.toUpperCase()),
    acquisitionNumber: num(dict, '00200012'),
    instanceNumber: num(dict, '00200013'),
    rows: num(dict, '00280010') ?? 0,
    columns: num(dict, '00280011') ?? 0,
    numberOfFrames: num(dict, '00280008') ?? 1,
    samplesPerPixel: num(dict, '00280002') ?? 1,
    photometricInterpretation: str(dict, '00280004').toUpperCase(),
    bitsAllocated,
    bitsStored: num(dict, '00280101') ?? bitsAllocated,
    highBit: num(dict, '00280102') ?? bitsAllocated - 1,
    pixelRepresentation: num(dict, '00280103') ?? 0,
    pixelSpacing: spacing ? [spacing[0], spacing[1]] : null,
    imageOrientationPatient: nums(dict, '00200037', 6),
    imagePositionPatient: ipp ? [ipp[0], ipp[1], ipp[2]] : null,
    sliceThickness: num(dict, '00180050'),
    gantryTilt: num(dict, '00181120') ?? 0,
    rescaleSlope: num(dict, '00281053') ?? 1,
    rescaleIntercept: num(dict, '00281052') ?? 0,
    hasPixelData: '7FE00010' in dict,
    patient: { name: str(dict, '00100010'), id: str(dict, '00100020'), birthDate: str(dict, '00100030'), sex: str(dict, '00100040') },
    study: {
      date: str(dict, '00080020'),
      time: str(dict, '00080030'),
      id: str(dict, '00200010'),
      accessionNumber: str(dict, '00080050'),
      description: str(dict, '00081030'),
      referringPhysicianName: str(dict, '00080090'),
    },
    manufacturer: str(dict, '00080070'),
    bodyPartExamined: str(dict, '00180015'),
  };
}

function parseError(file: string, e: unknown): LiversegError {
  if (e instanceof LiversegError) return e;
  const msg = (e as Error)?.message ?? String(e);
  return fileError('ERR_DICOM_PARSE', file, `not a readable DICOM file: ${msg.split('\n')[0]}`, e);
}

function arrayBufferOf(b: Uint8Array): ArrayBuffer {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength
    ? (b.buffer as ArrayBuffer)
    : (b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
}

/**
 * A deflated file rebuilt as explicit VR little endian: the data set inflated (capped), behind a
 * minimal meta header, plus the original meta header read on its own.
 */
async function inflateDeflated(bytes: Uint8Array, file: string, limits: ResolvedLimits): Promise<{ body: ArrayBuffer; meta: DcmjsDict }> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // (0002,0000) UL, explicit little endian: group 2, element 0, 'UL', length 4, value.
  if (bytes.length < 144 || view.getUint16(132, true) !== 2 || view.getUint16(134, true) !== 0 || bytes[136] !== 0x55 || bytes[137] !== 0x4c) {
    throw fileError('ERR_DICOM_PARSE', file, 'deflated file without a meta group length (0002,0000)');
  }
  const metaEnd = 144 + view.getUint32(140, true);
  if (metaEnd > bytes.length) throw fileError('ERR_DICOM_PARSE', file, 'file ends inside its meta header');
  const emptyDeflate = zlib.deflateRawSync(Buffer.alloc(0));
  const metaOnly = Buffer.concat([bytes.subarray(0, metaEnd), emptyDeflate]);
  const meta = dcmjs.data.DicomMessage.readFile(arrayBufferOf(metaOnly)).meta;
  let inflated: Buffer;
  try {
    inflated = await inflateRaw(bytes.subarray(metaEnd), { maxOutputLength: limits.maxFileBytes });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE')
      throw fileError('ERR_DICOM_TOO_LARGE', file, `deflated data set inflates to more than maxFileBytes (${fmtBytes(limits.maxFileBytes)})`, e);
    throw fileError('ERR_DICOM_PARSE', file, `corrupt deflated data set (${(e as Error).message})`, e);
  }
  const ts = Buffer.from(TS.explicitLE + '\0', 'latin1');
  const tsElement = Buffer.alloc(8);
  tsElement.writeUInt16LE(2, 0);
  tsElement.writeUInt16LE(0x10, 2);
  tsElement.write('UI', 4, 'latin1');
  tsElement.writeUInt16LE(ts.length, 6);
  const groupLength = Buffer.alloc(12);
  groupLength.writeUInt16LE(2, 0);
  groupLength.writeUInt16LE(0, 2);
  groupLength.write('UL', 4, 'latin1');
  groupLength.writeUInt16LE(4, 6);
  groupLength.writeUInt32LE(tsElement.length + ts.length, 8);
  const body = Buffer.concat([bytes.subarray(0, 132), groupLength, tsElement, ts, inflated]);
  return { body: arrayBufferOf(body), meta };
}

/** VRs whose explicit-VR header has a 4-byte length (PS3.5 7.1.2). */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);
const UNDEFINED = 0xffffffff;
const MAX_NESTING = 64;
const hex4 = (n: number): string => n.toString(16).padStart(4, '0').toUpperCase();

/**
 * Checks, before dcmjs reads anything, that every element's declared length fits in the bytes
 * there are, and returns the transfer syntax the meta header names. dcmjs fills a value that runs
 * past the end of the data with zeros, allocating the declared length first, so a damaged length
 * field of 4 GB would become a 4 GB allocation, and a truncated file a silently zero-padded image.
 * This walk only follows element boundaries (tags, VRs, lengths, and the items of undefined-length
 * values); reading the values is left to dcmjs. With `untilPixels` it stops at PixelData. Throws
 * ERR_DICOM_PARSE.
 */
export function checkElementLengths(bytes: Uint8Array, file: string, untilPixels: boolean, datasetSyntax?: string): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length;
  const fail = (at: number, what: string): never => {
    throw fileError('ERR_DICOM_PARSE', file, `${what} at byte ${at}: the file is truncated or damaged`);
  };
  let le = true;
  let explicit = true;
  let ts = '';

  /** The element at q; returns the position after it. */
  const element = (q: number, stop: number, depth: number): number => {
    if (q + 8 > stop) fail(q, 'element header cut short');
    const group = view.getUint16(q, le);
    const elem = view.getUint16(q + 2, le);
    let len: number;
    let hdr = 8;
    if (explicit && group !== 0xfffe) {
      const vr = String.fromCharCode(bytes[q + 4], bytes[q + 5]);
      if (LONG_VRS.has(vr)) {
        if (q + 12 > stop) fail(q, 'element header cut short');
        len = view.getUint32(q + 8, le);
        hdr = 12;
      } else {
        len = view.getUint16(q + 6, le);
      }
    } else {
      len = view.getUint32(q + 4, le);
    }
    const at = q + hdr;
    if (len === UNDEFINED) return items(at, stop, depth + 1);
    if (at + len > stop) fail(q, `element (${hex4(group)},${hex4(elem)}) declares ${len} bytes but ${stop - at} remain`);
    if (group === 2 && elem === 0x10)
      ts = Buffer.from(bytes.buffer, bytes.byteOffset + at, len)
        .toString('latin1')
        .replace(/[\0 ]+$/, '');
    return at + len;
  };
  /** The items of an undefined-length value (a sequence, or encapsulated pixel data), to its delimiter. */
  const items = (q: number, stop: number, depth: number): number => {
    if (depth > MAX_NESTING) fail(q, 'sequences nested more than 64 deep');
    while (q < stop) {
      if (q + 8 > stop) fail(q, 'item header cut short');
      const group = view.getUint16(q, le);
      const elem = view.getUint16(q + 2, le);
      const len = view.getUint32(q + 4, le);
      if (group !== 0xfffe || (elem !== 0xe000 && elem !== 0xe0dd)) fail(q, 'an undefined-length value without items or delimiter');
      q += 8;
      if (elem === 0xe0dd) return q;
      if (len === UNDEFINED) {
        // An item of undefined length: elements up to its delimiter (or the end of the data).
        while (q < stop) {
          if (q + 8 <= stop && view.getUint16(q, le) === 0xfffe && view.getUint16(q + 2, le) === 0xe00d) {
            q += 8;
            break;
          }
          q = element(q, stop, depth + 1);
        }
        continue;
      }
      if (q + len > stop) fail(q - 8, `item declares ${len} bytes but ${stop - q} remain`);
      q += len;
    }
    // dcmjs reads a missing delimiter at the end of the data as the end of the sequence.
    return q;
  };

  let q = 132;
  while (q + 4 <= end && view.getUint16(q, true) === 2) q = element(q, end, 0);
  const syntax = datasetSyntax ?? ts;
  le = syntax !== TS.explicitBE;
  explicit = syntax !== TS.implicitLE;
  while (q < end) {
    if (untilPixels && q + 4 <= end && view.getUint16(q, le) === 0x7fe0 && view.getUint16(q + 2, le) === 0x0010) break;
    q = element(q, end, 0);
  }
  return ts;
}

/**
 * Parses a Part 10 file. With `pixels: false` dcmjs stops at PixelData (whose presence is still
 * recorded), which is all that grouping files into series needs.
 */
export async function parseFile(bytes: Uint8Array, file: string, limits: ResolvedLimits, pixels: boolean): Promise<ParsedFile> {
  if (!isPart10(bytes)) throw fileError('ERR_DICOM_PARSE', file, 'not a DICOM Part 10 file (no DICM prefix)');
  try {
    let buffer = arrayBufferOf(bytes);
    let meta: DcmjsDict | undefined;
    if (isDeflated(bytes)) {
      const r = await inflateDeflated(bytes, file, limits);
      buffer = r.body;
      meta = r.meta;
    }
    checkElementLengths(new Uint8Array(buffer), file, !pixels, meta ? TS.explicitLE : undefined);
    const parsed = dcmjs.data.DicomMessage.readFile(buffer, { untilTag: pixels ? null : '7FE00010', ignoreErrors: false });
    meta ??= parsed.meta;
    if (!meta['00020010']) throw fileError('ERR_DICOM_PARSE', file, 'meta header has no TransferSyntaxUID (0002,0010)');
    return { header: readHeader(parsed.dict, meta, file), dict: parsed.dict, meta };
  } catch (e) {
    throw parseError(file, e);
  }
}

/** Whether the meta header names the deflated transfer syntax (read without dcmjs, which would inflate). */
function isDeflated(bytes: Uint8Array): boolean {
  const limit = Math.min(bytes.length, 132 + 4096);
  const needle = Buffer.from(TS.deflatedLE, 'latin1');
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, limit);
  let at = b.indexOf(needle, 132);
  while (at >= 0) {
    // The value must be the whole (0002,0010) element: tag, 'UI', length 22 or 23, then the UID.
    if (at >= 140 && b.readUInt16LE(at - 8) === 2 && b.readUInt16LE(at - 6) === 0x10) return true;
    at = b.indexOf(needle, at + 1);
  }
  return false;
}
