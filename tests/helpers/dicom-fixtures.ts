/**
 * DICOM test material: the real series in tests/fixtures/ct-dicom, synthetic series written with
 * dcmjs (any geometry, storage and attributes), copies of the real series with UIDs filled in, zip
 * archives assembled by hand (so a test can build a lying or oversized one), and the external
 * tools (dcm2niix, dcmtk, gdcm, dicom3tools) the end-to-end checks compare against.
 */
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as nodePath from 'node:path';
import * as zlib from 'node:zlib';
import * as dcmjs from 'dcmjs';
import type { Vec3, Volume } from '../../src/ts/volume';
import { toCanonical } from '../../src/ts/geometry/orientation';

export const FIXTURE_DIR = nodePath.join(__dirname, '..', 'fixtures', 'ct-dicom');
export const SERIES_DIR = nodePath.join(FIXTURE_DIR, 'series');
export const LIVER_NII = nodePath.join(FIXTURE_DIR, 'liver.nii.gz');

export const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
export const EXPLICIT_LE = '1.2.840.10008.1.2.1';
export const IMPLICIT_LE = '1.2.840.10008.1.2';

/** Whether a command-line tool is installed (tests that need one skip without it; scripts/setup.js installs them). */
export function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Runs a tool and returns its exit status and all it printed (for tools whose status reports findings, like dciodvfy). */
export function runAny(cmd: string, args: string[]): { status: number | null; output: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** Runs a tool; throws with its output when it fails. */
export function run(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  return `${r.stdout}${r.stderr}`;
}

let uidCounter = 0;
/** A unique, valid UID for tests. */
export function testUid(): string {
  uidCounter++;
  return `2.25.${Date.now()}${process.pid}${String(uidCounter).padStart(6, '0')}`;
}

export interface SynthSeriesOptions {
  cols?: number;
  rows?: number;
  slices?: number;
  /** [row spacing, column spacing]. Default [0.8, 0.7]. */
  pixelSpacing?: [number, number];
  /** Distance between slice positions. Default 2.5. */
  gap?: number;
  origin?: Vec3;
  /** ImageOrientationPatient. Default axial [1,0,0,0,1,0]. */
  iop?: number[];
  /** Override each slice's ImagePositionPatient. */
  positions?: Vec3[];
  /** Stored value at column i, row j, slice k (before rescale). Default a unique ramp. */
  value?: (i: number, j: number, k: number) => number;
  signed?: boolean;
  bitsAllocated?: 8 | 16;
  bitsStored?: number;
  slope?: number | ((k: number) => number);
  intercept?: number | ((k: number) => number);
  /** null: empty UIDs (as in an anonymised series). */
  uids?: { study: string; series: string; frameOfReference: string } | null;
  modality?: string;
  imageType?: string[];
  seriesDescription?: string;
  seriesNumber?: number;
  transferSyntax?: string;
  sliceThickness?: number;
  gantryTilt?: number;
  /** File name of slice k. Default a scrambled name without extension. */
  name?: (k: number) => string;
  /** Extra attributes (dcmjs naturalized names). */
  extra?: Record<string, unknown>;
  /** Files are returned in this slice order (default: scrambled). */
  order?: number[];
}

export interface SynthFile {
  name: string;
  bytes: Buffer;
  k: number;
  sopInstanceUid: string;
}

/** Stored value of the default ramp: unique per voxel within 12 bits for small series. */
export const ramp = (i: number, j: number, k: number): number => (i * 7 + j * 13 + k * 101) % 4000;

/** A synthetic single-frame CT series written with dcmjs. */
export function synthSeries(o: SynthSeriesOptions = {}): SynthFile[] {
  const cols = o.cols ?? 12;
  const rows = o.rows ?? 10;
  const slices = o.slices ?? 6;
  const ps = o.pixelSpacing ?? [0.8, 0.7];
  const gap = o.gap ?? 2.5;
  const origin = o.origin ?? [-100, -120, 50];
  const iop = o.iop ?? [1, 0, 0, 0, 1, 0];
  const normal = [iop[1] * iop[5] - iop[2] * iop[4], iop[2] * iop[3] - iop[0] * iop[5], iop[0] * iop[4] - iop[1] * iop[3]];
  const value = o.value ?? ramp;
  const bits = o.bitsAllocated ?? 16;
  const uids = o.uids === undefined ? { study: testUid(), series: testUid(), frameOfReference: testUid() } : o.uids;
  const ts = o.transferSyntax ?? EXPLICIT_LE;
  const order = o.order ?? Array.from({ length: slices }, (_, k) => (k * 7 + 3) % slices).filter((v, i, a) => a.indexOf(v) === i);
  const allK = order.length === slices ? order : Array.from({ length: slices }, (_, k) => k);
  const files: SynthFile[] = [];
  for (const k of allK) {
    const pos: Vec3 = o.positions?.[k] ?? [origin[0] + normal[0] * gap * k, origin[1] + normal[1] * gap * k, origin[2] + normal[2] * gap * k];
    const n = cols * rows;
    const px = bits === 8 ? (o.signed ? new Int8Array(n) : new Uint8Array(n)) : o.signed ? new Int16Array(n) : new Uint16Array(n);
    for (let j = 0; j < rows; j++) for (let i = 0; i < cols; i++) px[j * cols + i] = value(i, j, k);
    const sop = uids ? testUid() : '';
    const slope = typeof o.slope === 'function' ? o.slope(k) : (o.slope ?? 1);
    const intercept = typeof o.intercept === 'function' ? o.intercept(k) : (o.intercept ?? -1024);
    const ds: Record<string, unknown> = {
      _vrMap: { PixelData: bits === 8 ? 'OB' : 'OW' },
      SpecificCharacterSet: 'ISO_IR 100',
      ImageType: o.imageType ?? ['ORIGINAL', 'PRIMARY', 'AXIAL'],
      SOPClassUID: CT_IMAGE_STORAGE,
      SOPInstanceUID: sop,
      StudyDate: '20240102',
      StudyTime: '101010',
      Modality: o.modality ?? 'CT',
      Manufacturer: 'liverseg-tests',
      SeriesDescription: o.seriesDescription ?? 'synthetic',
      PatientName: 'Test^Patient',
      PatientID: 'P1',
      PatientBirthDate: '19700101',
      PatientSex: 'O',
      SliceThickness: o.sliceThickness ?? gap,
      GantryDetectorTilt: o.gantryTilt ?? 0,
      StudyInstanceUID: uids?.study ?? '',
      SeriesInstanceUID: uids?.series ?? '',
      StudyID: '1',
      SeriesNumber: o.seriesNumber ?? 3,
      InstanceNumber: k + 1,
      ImagePositionPatient: pos,
      ImageOrientationPatient: iop,
      FrameOfReferenceUID: uids?.frameOfReference ?? '',
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      Rows: rows,
      Columns: cols,
      PixelSpacing: ps,
      BitsAllocated: bits,
      BitsStored: o.bitsStored ?? (bits === 8 ? 8 : 12),
      HighBit: (o.bitsStored ?? (bits === 8 ? 8 : 12)) - 1,
      PixelRepresentation: o.signed ? 1 : 0,
      RescaleIntercept: intercept,
      RescaleSlope: slope,
      PixelData: px.buffer,
      ...o.extra,
    };
    files.push({ name: o.name ? o.name(k) : `IM${((k * 2654435761) >>> 0).toString(16)}`, bytes: writeDataset(ds, ts), k, sopInstanceUid: sop });
  }
  return files;
}

/** A Part 10 file from a naturalized dataset. */
export function writeDataset(ds: Record<string, unknown>, transferSyntax = EXPLICIT_LE): Buffer {
  const { DicomMetaDictionary, DicomDict } = dcmjs.data;
  const meta = DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: (ds.SOPClassUID as string) || CT_IMAGE_STORAGE,
    MediaStorageSOPInstanceUID: (ds.SOPInstanceUID as string) || '',
    TransferSyntaxUID: transferSyntax,
    ImplementationClassUID: '2.25.1',
  });
  const dict = new DicomDict(meta);
  dict.dict = DicomMetaDictionary.denaturalizeDataset(ds);
  return Buffer.from(dict.write());
}

export async function writeFiles(dir: string, files: Array<{ name: string; bytes: Uint8Array }>): Promise<string[]> {
  await fsp.mkdir(dir, { recursive: true });
  const paths: string[] = [];
  for (const f of files) {
    const p = nodePath.join(dir, f.name);
    await fsp.mkdir(nodePath.dirname(p), { recursive: true });
    await fsp.writeFile(p, f.bytes);
    paths.push(p);
  }
  return paths;
}

/** A copy of a series folder with SOP Class, SOP Instance, Study and Series UIDs filled in (dcmjs rewrites each file in its own transfer syntax). */
export async function fillUids(src: string, dst: string, only?: string[]): Promise<{ study: string; series: string }> {
  await fsp.mkdir(dst, { recursive: true });
  const study = testUid();
  const series = testUid();
  const names = (await fsp.readdir(src)).sort().filter((n) => !only || only.includes(n));
  for (const name of names) {
    const b = await fsp.readFile(nodePath.join(src, name));
    const d = dcmjs.data.DicomMessage.readFile(b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer);
    const sop = testUid();
    // Set the elements in place (tags as dcmjs keys them), so private and unknown elements survive.
    const uid = (v: string) => ({ vr: 'UI', Value: [v] });
    Object.assign(d.dict, { '00080016': uid(CT_IMAGE_STORAGE), '00080018': uid(sop), '0020000D': uid(study), '0020000E': uid(series) });
    d.meta['00020003'] = { vr: 'UI', Value: [sop] };
    d.meta['00020002'] = { vr: 'UI', Value: [CT_IMAGE_STORAGE] };
    await fsp.writeFile(nodePath.join(dst, name), Buffer.from(d.write()));
  }
  return { study, series };
}

export interface ZipEntrySpec {
  name: string;
  data: Uint8Array;
  /** Store without compression (default: deflate). */
  store?: boolean;
  /** Lie about the uncompressed size in the headers. */
  declaredSize?: number;
}

/** A zip archive assembled field by field (PKWARE APPNOTE 4.3): local headers, data, central directory. */
export function makeZip(entries: ZipEntrySpec[]): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const data = e.store ? Buffer.from(e.data) : zlib.deflateRawSync(e.data);
    const crc = zlib.crc32(e.data);
    const size = e.declaredSize ?? e.data.length;
    const method = e.store ? 0 : 8;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(size >>> 0, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, data);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(0x0800, 8);
    c.writeUInt16LE(method, 10);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(data.length, 20);
    c.writeUInt32LE(size >>> 0, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt32LE(offset, 42);
    central.push(c, name);
    offset += 30 + name.length + data.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** Compares two volumes in world coordinates (both reoriented to RAS): equal shapes, voxel differences and the largest affine difference. */
export function compareInWorld(a: Volume, b: Volume): { sameShape: boolean; maxVoxelDiff: number; unequal: number; maxAffineDiff: number } {
  const ca = toCanonical(a).volume;
  const cb = toCanonical(b).volume;
  const sameShape = ca.shape.every((s, i) => s === cb.shape[i]);
  let maxVoxelDiff = 0;
  let unequal = 0;
  if (sameShape) {
    for (let i = 0; i < ca.data.length; i++) {
      const d = Math.abs(ca.data[i] - cb.data[i]);
      if (d > 0) unequal++;
      if (d > maxVoxelDiff) maxVoxelDiff = d;
    }
  }
  let maxAffineDiff = 0;
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) maxAffineDiff = Math.max(maxAffineDiff, Math.abs(ca.affine[r][c] - cb.affine[r][c]));
  return { sameShape, maxVoxelDiff: sameShape ? maxVoxelDiff : NaN, unequal, maxAffineDiff };
}
