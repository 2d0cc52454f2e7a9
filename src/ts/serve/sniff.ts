/**
 * What an upload is, from its first bytes and never from its name: NIfTI-1/2 (plain or gzipped),
 * a zip archive (a DICOM series), or a DICOM Part 10 file. Anything else is refused with 415
 * before a job is made.
 */
import { promises as fsp } from 'node:fs';
import * as zlib from 'node:zlib';
import { NIFTI1_HEADER_SIZE, NIFTI2_HEADER_SIZE, sniffNifti } from '../io/nifti-header';

export type UploadKind = 'nifti' | 'nifti-gz' | 'zip' | 'dicom';

export type SniffResult = { kind: UploadKind } | { kind: 'empty' } | { kind: 'unknown'; reason: string };

/** Bytes read from the start of a file to decide. A DICOM preamble needs 132, a gzipped NIfTI header a few hundred once inflated. */
const SNIFF_BYTES = 64 * 1024;

function niftiMagicOk(head: Uint8Array): boolean {
  const s = sniffNifti(head.subarray(0, 4));
  if (!s) return false;
  if (s.version === 1) {
    if (head.length < NIFTI1_HEADER_SIZE) return false;
    // n+1: header and voxels in one file. ni1 (a .hdr/.img pair) cannot be uploaded as one file.
    return head[344] === 0x6e && head[345] === 0x2b && head[346] === 0x31 && head[347] === 0;
  }
  if (head.length < 12) return false;
  return head[4] === 0x6e && head[5] === 0x2b && head[6] === 0x32 && head[7] === 0;
}

/** Compressed bytes inflated to find the header: enough for any gzip header fields, and at most ~17 MB once inflated. */
const GZIP_PREFIX = 16 * 1024;

/** Inflates the start of a gzip stream, tolerating a stream cut short (the job reports that later, with its code). */
function inflateStart(bytes: Uint8Array, want: number): Buffer {
  try {
    const out = zlib.gunzipSync(bytes.subarray(0, GZIP_PREFIX), { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: GZIP_PREFIX * 1100 });
    return out.subarray(0, want);
  } catch {
    return Buffer.alloc(0);
  }
}

/** Sniffs bytes already in memory (the start of a file). */
export function sniffBytes(head: Uint8Array): SniffResult {
  if (head.length === 0) return { kind: 'empty' };
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    const inner = inflateStart(head, NIFTI2_HEADER_SIZE);
    if (inner.length === 0) return { kind: 'unknown', reason: 'gzip data that does not inflate' };
    if (niftiMagicOk(inner)) return { kind: 'nifti-gz' };
    return { kind: 'unknown', reason: 'gzip data that is not a NIfTI volume' };
  }
  if (niftiMagicOk(head)) return { kind: 'nifti' };
  // Local file header, or the end-of-central-directory record of an empty archive.
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6)))
    return { kind: 'zip' };
  if (head.length >= 132 && head[128] === 0x44 && head[129] === 0x49 && head[130] === 0x43 && head[131] === 0x4d) return { kind: 'dicom' };
  return { kind: 'unknown', reason: 'neither NIfTI, gzip-wrapped NIfTI, zip nor DICOM' };
}

/** Sniffs the first bytes of a file. */
export async function sniffFile(path: string): Promise<SniffResult> {
  const fh = await fsp.open(path, 'r');
  try {
    const buf = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await fh.read(buf, 0, SNIFF_BYTES, 0);
    return sniffBytes(buf.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}
