/**
 * Hand-assembled NIfTI files for tests, written field by field from the published nifti1.h and
 * nifti2.h layouts. Deliberately independent of src/ts/io's encoder, so the reader is not only
 * tested against our own writer.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

export interface HandHeader {
  version: 1 | 2;
  littleEndian: boolean;
  dims: number[];
  datatype: number;
  bitpix?: number;
  pixdim: number[];
  voxOffset?: number;
  sclSlope?: number;
  sclInter?: number;
  qformCode?: number;
  sformCode?: number;
  /** b, c, d, qoffset_x, qoffset_y, qoffset_z */
  quatern?: number[];
  srow?: number[][];
  xyztUnits?: number;
  description?: string;
  magic?: string;
}

export const DATATYPE_BYTES: Record<number, number> = { 2: 1, 256: 1, 4: 2, 512: 2, 8: 4, 768: 4, 16: 4, 64: 8 };

/** The header bytes (padded with zeros up to vox_offset). */
export function handHeader(h: HandHeader): Buffer {
  const le = h.littleEndian;
  const size = h.version === 1 ? 348 : 540;
  const voxOffset = h.voxOffset ?? size + 4;
  const buf = Buffer.alloc(Math.max(voxOffset, size + 4));
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  const dims = [...h.dims, 1, 1, 1, 1, 1, 1, 1, 1].slice(0, 8);
  const pixdim = [...h.pixdim, 0, 0, 0, 0, 0, 0, 0, 0].slice(0, 8);
  const quat = h.quatern ?? [0, 0, 0, 0, 0, 0];
  const srow = h.srow ?? [
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 0],
  ];
  const bitpix = h.bitpix ?? (DATATYPE_BYTES[h.datatype] ?? 1) * 8;
  if (h.version === 1) {
    dv.setInt32(0, 348, le);
    for (let i = 0; i < 8; i++) dv.setInt16(40 + 2 * i, dims[i], le);
    dv.setInt16(70, h.datatype, le);
    dv.setInt16(72, bitpix, le);
    for (let i = 0; i < 8; i++) dv.setFloat32(76 + 4 * i, pixdim[i], le);
    dv.setFloat32(108, voxOffset, le);
    dv.setFloat32(112, h.sclSlope ?? 0, le);
    dv.setFloat32(116, h.sclInter ?? 0, le);
    dv.setUint8(123, h.xyztUnits ?? 2);
    buf.write(h.description ?? '', 148, 79, 'latin1');
    dv.setInt16(252, h.qformCode ?? 0, le);
    dv.setInt16(254, h.sformCode ?? 0, le);
    for (let i = 0; i < 6; i++) dv.setFloat32(256 + 4 * i, quat[i], le);
    for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) dv.setFloat32(280 + 16 * r + 4 * c, srow[r][c], le);
    buf.write(h.magic ?? 'n+1\0', 344, 4, 'latin1');
  } else {
    dv.setInt32(0, 540, le);
    buf.write(h.magic ?? 'n+2\0\r\n\x1a\n', 4, 8, 'latin1');
    dv.setInt16(12, h.datatype, le);
    dv.setInt16(14, bitpix, le);
    for (let i = 0; i < 8; i++) dv.setBigInt64(16 + 8 * i, BigInt(dims[i]), le);
    for (let i = 0; i < 8; i++) dv.setFloat64(104 + 8 * i, pixdim[i], le);
    dv.setBigInt64(168, BigInt(voxOffset), le);
    dv.setFloat64(176, h.sclSlope ?? 0, le);
    dv.setFloat64(184, h.sclInter ?? 0, le);
    buf.write(h.description ?? '', 240, 79, 'latin1');
    dv.setInt32(344, h.qformCode ?? 0, le);
    dv.setInt32(348, h.sformCode ?? 0, le);
    for (let i = 0; i < 6; i++) dv.setFloat64(352 + 8 * i, quat[i], le);
    for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) dv.setFloat64(400 + 32 * r + 8 * c, srow[r][c], le);
    dv.setInt32(500, h.xyztUnits ?? 2, le);
  }
  return buf.subarray(0, Math.max(voxOffset, size));
}

/** Voxel values encoded in the given datatype and byte order. */
export function encodeValues(values: readonly number[], datatype: number, littleEndian: boolean): Buffer {
  const n = DATATYPE_BYTES[datatype];
  const buf = Buffer.alloc(values.length * n);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  values.forEach((v, i) => {
    const o = i * n;
    switch (datatype) {
      case 2:
        dv.setUint8(o, v);
        break;
      case 256:
        dv.setInt8(o, v);
        break;
      case 4:
        dv.setInt16(o, v, littleEndian);
        break;
      case 512:
        dv.setUint16(o, v, littleEndian);
        break;
      case 8:
        dv.setInt32(o, v, littleEndian);
        break;
      case 768:
        dv.setUint32(o, v, littleEndian);
        break;
      case 16:
        dv.setFloat32(o, v, littleEndian);
        break;
      case 64:
        dv.setFloat64(o, v, littleEndian);
        break;
      default:
        throw new Error(`test helper: datatype ${datatype}`);
    }
  });
  return buf;
}

export function handNifti(h: HandHeader, values: readonly number[]): Buffer {
  return Buffer.concat([handHeader(h), encodeValues(values, h.datatype, h.littleEndian)]);
}

/** Sample values per datatype, extremes included. */
export const SAMPLE_VALUES: Record<number, number[]> = {
  2: [0, 1, 2, 127, 128, 254, 255, 7],
  256: [-128, -1, 0, 1, 127, 5, -7, 64],
  4: [-32768, -1024, -1, 0, 1, 1000, 32767, 12345],
  512: [0, 1, 255, 256, 32768, 65535, 40000, 3],
  8: [-2147483648, -1, 0, 1, 2147483647, 123456789, -987654, 42],
  768: [0, 1, 4294967295, 2147483648, 65536, 3000000000, 77, 9],
  16: [0, -0.5, 1.5, 3.4028234663852886e38, -1.1754943508222875e-38, 1024.25, -3000.125, 0.1 as number],
  64: [0, Math.PI, -Math.E, 1e300, -1e-300, 0.1, 123456.789, Number.MAX_SAFE_INTEGER],
};

/** What the typed array of that datatype holds after storing `v` (float32 rounding). */
export function stored(datatype: number, v: number): number {
  return datatype === 16 ? Math.fround(v) : v;
}

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Header fields as nifti-reader-js (an independent reader, ESM-only, so run in a child process) sees them. */
export interface OracleHeader {
  littleEndian: boolean;
  dims: number[];
  pixDims: number[];
  datatypeCode: number;
  vox_offset: number;
  scl_slope: number;
  scl_inter: number;
  qform_code: number;
  sform_code: number;
  quatern_b: number;
  quatern_c: number;
  quatern_d: number;
  qoffset_x: number;
  qoffset_y: number;
  qoffset_z: number;
  affine: number[][];
  description: string;
}

export function oracleHeaders(files: string[]): Record<string, OracleHeader> {
  const script = `
    import * as n from 'nifti-reader-js';
    import fs from 'node:fs';
    const out = {};
    for (const f of JSON.parse(process.argv[1])) {
      const b = fs.readFileSync(f);
      let ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
      if (n.isCompressed(ab)) ab = n.decompress(ab);
      const h = n.readHeader(ab);
      const pick = ['littleEndian', 'dims', 'pixDims', 'datatypeCode', 'vox_offset', 'scl_slope', 'scl_inter',
        'qform_code', 'sform_code', 'quatern_b', 'quatern_c', 'quatern_d', 'qoffset_x', 'qoffset_y', 'qoffset_z',
        'affine', 'description'];
      out[f] = Object.fromEntries(pick.map((k) => [k, typeof h[k] === 'bigint' ? Number(h[k]) : h[k]]));
      out[f].dims = Array.from(h.dims, Number);
    }
    process.stdout.write(JSON.stringify(out));
  `;
  const text = execFileSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(files)], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  return JSON.parse(text);
}
