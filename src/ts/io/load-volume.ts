/**
 * `loadVolume`: one entry point for every source of a CT. A path ending in .nii or .nii.gz, or
 * any file that is neither a zip nor a DICOM file, is read as NIfTI exactly as before; a folder,
 * a zip, a DICOM file, a list of files or Buffers is read as a DICOM series. A Buffer holding a
 * NIfTI file is decoded as NIfTI.
 */
import { promises as fsp } from 'node:fs';
import { describeValue, fileError, invalidArg, LiversegError } from '../errors';
import type { Volume } from '../volume';
import { isPart10 } from './dicom/parse';
import { loadDicomSeries } from './dicom/series';
import { DicomSource, isDicomSource } from './dicom/sources';
import { isZip } from './dicom/zip';
import { sniffNifti } from './nifti-header';
import { decodeNifti, loadNiftiFile, LoadVolumeOptions } from './nifti-read';
import { openRegularFile } from './regular-file';

/** A NIfTI path, or any DICOM source: a folder, a .zip, a DICOM file, a list of files or Buffers, one Buffer. */
export type VolumeSource = DicomSource;

const NIFTI_NAME = /\.nii(\.gz)?$/i;

/** What a path holds, judged by its first bytes (not its name). */
async function sniffPath(path: string): Promise<'folder' | 'dicom' | 'other'> {
  let st;
  try {
    st = await fsp.stat(path);
  } catch {
    return 'other';
  }
  if (st.isDirectory()) return 'folder';
  if (!st.isFile()) return 'other';
  let head: Buffer;
  try {
    const { fh } = await openRegularFile(path);
    try {
      head = Buffer.alloc(132);
      const { bytesRead } = await fh.read(head, 0, 132, 0);
      head = head.subarray(0, bytesRead);
    } finally {
      await fh.close().catch(() => undefined);
    }
  } catch {
    return 'other';
  }
  return isZip(head) || isPart10(head) ? 'dicom' : 'other';
}

/** Whether a folder holds any DICOM Part 10 file or zip at all (only asked after a folder gave no series). */
async function folderHasDicom(dir: string, budget = { files: 10_000 }): Promise<boolean> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return false;
  }
  for (const n of names) {
    if (budget.files-- <= 0) return true;
    const p = `${dir}/${n}`;
    const kind = await sniffPath(p);
    if (kind === 'dicom') return true;
    if (kind === 'folder' && (await folderHasDicom(p, budget))) return true;
  }
  return false;
}

/**
 * Reads a CT into a {@link Volume}: a NIfTI file (see `loadNiftiFile` for the details and its
 * errors), or a DICOM series from a folder, a zip, a file list or Buffers (see `loadDicomSeries`;
 * the volume then carries a `dicom` description). A folder with no DICOM files in it is ERR_IO, as
 * it always was.
 * @example
 * const ct = await loadVolume('ct.nii.gz');
 * const fromDicom = await loadVolume('patient/CT/', { seriesUid: '1.2.3' });
 */
export async function loadVolume(source: VolumeSource, options: LoadVolumeOptions = {}): Promise<Volume> {
  if (typeof source === 'string') {
    if (source.length === 0) throw new LiversegError('ERR_INVALID_ARG', `Invalid argument 'path': expected a non-empty string`);
    if (NIFTI_NAME.test(source)) return loadNiftiFile(source, options);
    const kind = await sniffPath(source);
    if (kind === 'other') return loadNiftiFile(source, options);
    try {
      return await loadDicomSeries(source, options);
    } catch (e) {
      if (kind === 'folder' && e instanceof LiversegError && e.code === 'ERR_DICOM_NO_SERIES' && !(await folderHasDicom(source))) {
        throw fileError('ERR_IO', source, 'is a folder with no DICOM files in it, not a NIfTI file', e);
      }
      throw e;
    }
  }
  if (source instanceof Uint8Array && !isZip(source) && !isPart10(source)) {
    // A Buffer that is gzip or starts like a NIfTI header is a NIfTI file in memory.
    const gzip = source.length >= 2 && source[0] === 0x1f && source[1] === 0x8b;
    if (gzip || sniffNifti(source.subarray(0, 4))) return decodeNifti(source, options);
  }
  if (!isDicomSource(source)) throw invalidArg('source', `expected a NIfTI path, a DICOM folder, zip, file list or Buffers, got ${describeValue(source)}`);
  return loadDicomSeries(source, options);
}
