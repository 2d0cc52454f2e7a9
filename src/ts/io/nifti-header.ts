/**
 * The NIfTI-1 and NIfTI-2 header layouts: parsing (either byte order), validation, the
 * voxel-to-world rule, and serialisation.
 *
 * We parse the fixed-layout header ourselves instead of through nifti-reader-js: that package
 * (0.8) ships as ES modules with an `import`-only export map, so neither liverseg's CommonJS
 * build nor Jest can `require` it, and its extension walker throws plain Errors on damaged
 * files where we need LiversegError codes. The tests still use it, in a child process, as an
 * independent check of this parser.
 */
import { fileError, invalidArg } from '../errors';
import type { Affine, NiftiGeometry, Vec3, VoxelArray } from '../volume';
import { affineFromGeometry } from '../geometry/nifti-geometry';

export const NIFTI1_HEADER_SIZE = 348;
export const NIFTI2_HEADER_SIZE = 540;
/** Header plus the 4-byte extension flag: where a file without extensions puts its voxels. */
export const NIFTI1_VOX_OFFSET = 352;
export const NIFTI2_VOX_OFFSET = 544;

type VoxelArrayConstructor =
  | Uint8ArrayConstructor
  | Int8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor;

export interface NiftiDatatype {
  code: number;
  name: string;
  bytes: 1 | 2 | 4 | 8;
  array: VoxelArrayConstructor;
}

/** The datatypes liverseg reads and writes, keyed by NIfTI datatype code. */
export const NIFTI_DATATYPES: ReadonlyMap<number, NiftiDatatype> = new Map<number, NiftiDatatype>([
  [2, { code: 2, name: 'uint8', bytes: 1, array: Uint8Array }],
  [256, { code: 256, name: 'int8', bytes: 1, array: Int8Array }],
  [4, { code: 4, name: 'int16', bytes: 2, array: Int16Array }],
  [512, { code: 512, name: 'uint16', bytes: 2, array: Uint16Array }],
  [8, { code: 8, name: 'int32', bytes: 4, array: Int32Array }],
  [768, { code: 768, name: 'uint32', bytes: 4, array: Uint32Array }],
  [16, { code: 16, name: 'float32', bytes: 4, array: Float32Array }],
  [64, { code: 64, name: 'float64', bytes: 8, array: Float64Array }],
]);

/** Names of valid NIfTI datatypes that liverseg does not read, for clearer messages. */
const UNSUPPORTED_DATATYPES: ReadonlyMap<number, string> = new Map([
  [0, 'unknown (0)'],
  [1, 'binary'],
  [32, 'complex64'],
  [128, 'rgb24'],
  [1024, 'int64'],
  [1280, 'uint64'],
  [1536, 'float128'],
  [1792, 'complex128'],
  [2048, 'complex256'],
  [2304, 'rgba32'],
]);

/** The NIfTI datatype for a typed array (its constructor decides). */
export function datatypeOf(data: VoxelArray): NiftiDatatype {
  // By tag, not instanceof: arrays made by the native addon or another realm (jest, vm) have
  // other constructors with the same names.
  const tag = Object.prototype.toString.call(data);
  for (const dt of NIFTI_DATATYPES.values()) if (tag === `[object ${dt.array.name}]`) return dt;
  throw invalidArg('data', `${tag.slice(8, -1)} has no NIfTI datatype (use Uint8, Int8, Int16, Uint16, Int32, Uint32, Float32 or Float64 arrays)`);
}

/** Everything the reader needs from a header, already validated. */
export interface ParsedNiftiHeader {
  geometry: NiftiGeometry;
  littleEndian: boolean;
  headerSize: number;
  voxOffset: number;
  datatype: NiftiDatatype;
  shape: Vec3;
  spacing: Vec3;
  affine: Affine;
  /** (slope, intercept) when the header asks for scaling, else null. */
  scaling: { slope: number; inter: number } | null;
  voxels: number;
  bodyBytes: number;
}

/**
 * Which header a file starts with, from sizeof_hdr (the first int32) read in both byte orders.
 * Null when it is neither 348 nor 540 in either order: not NIfTI at all.
 */
export function sniffNifti(first4: Uint8Array): { version: 1 | 2; littleEndian: boolean; headerSize: number } | null {
  if (first4.length < 4) return null;
  const dv = new DataView(first4.buffer, first4.byteOffset, 4);
  const le = dv.getInt32(0, true);
  const be = dv.getInt32(0, false);
  if (le === NIFTI1_HEADER_SIZE) return { version: 1, littleEndian: true, headerSize: NIFTI1_HEADER_SIZE };
  if (be === NIFTI1_HEADER_SIZE) return { version: 1, littleEndian: false, headerSize: NIFTI1_HEADER_SIZE };
  if (le === NIFTI2_HEADER_SIZE) return { version: 2, littleEndian: true, headerSize: NIFTI2_HEADER_SIZE };
  if (be === NIFTI2_HEADER_SIZE) return { version: 2, littleEndian: false, headerSize: NIFTI2_HEADER_SIZE };
  return null;
}

function readString(bytes: Uint8Array, start: number, length: number): string {
  let end = start;
  while (end < start + length && bytes[end] !== 0) end++;
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}

/** Raw field values, before any validation. */
interface RawHeader {
  version: 1 | 2;
  littleEndian: boolean;
  magic: string;
  dims: number[];
  datatype: number;
  pixdim: number[];
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  xyztUnits: number;
  description: string;
  qformCode: number;
  sformCode: number;
  quatern: number[];
  srow: number[][];
}

function readRaw(bytes: Uint8Array, version: 1 | 2, le: boolean): RawHeader {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, version === 1 ? NIFTI1_HEADER_SIZE : NIFTI2_HEADER_SIZE);
  if (version === 1) {
    const f32 = (o: number): number => dv.getFloat32(o, le);
    return {
      version,
      littleEndian: le,
      magic: readString(bytes, 344, 4),
      dims: Array.from({ length: 8 }, (_, i) => dv.getInt16(40 + 2 * i, le)),
      datatype: dv.getInt16(70, le),
      pixdim: Array.from({ length: 8 }, (_, i) => f32(76 + 4 * i)),
      voxOffset: f32(108),
      sclSlope: f32(112),
      sclInter: f32(116),
      xyztUnits: dv.getUint8(123),
      description: readString(bytes, 148, 80),
      qformCode: dv.getInt16(252, le),
      sformCode: dv.getInt16(254, le),
      quatern: Array.from({ length: 6 }, (_, i) => f32(256 + 4 * i)),
      srow: [0, 1, 2].map((r) => Array.from({ length: 4 }, (_, c) => f32(280 + 16 * r + 4 * c))),
    };
  }
  const f64 = (o: number): number => dv.getFloat64(o, le);
  const i64 = (o: number): number => Number(dv.getBigInt64(o, le));
  return {
    version,
    littleEndian: le,
    magic: readString(bytes, 4, 4),
    dims: Array.from({ length: 8 }, (_, i) => i64(16 + 8 * i)),
    datatype: dv.getInt16(12, le),
    pixdim: Array.from({ length: 8 }, (_, i) => f64(104 + 8 * i)),
    voxOffset: i64(168),
    sclSlope: f64(176),
    sclInter: f64(184),
    xyztUnits: dv.getInt32(500, le),
    description: readString(bytes, 240, 80),
    qformCode: dv.getInt32(344, le),
    sformCode: dv.getInt32(348, le),
    quatern: Array.from({ length: 6 }, (_, i) => f64(352 + 8 * i)),
    srow: [0, 1, 2].map((r) => Array.from({ length: 4 }, (_, c) => f64(400 + 32 * r + 8 * c))),
  };
}

/**
 * Parses and validates a NIfTI-1 or NIfTI-2 header (either byte order) from the first
 * `headerSize` bytes of a file. `source` names the file in error messages.
 *
 * Decisions beyond the standard's letter: dims past dim[0] are ignored (treated as 1); a 2D
 * file is read as one slice; a pixdim along an axis past dim[0] that is not a positive number
 * counts as 1; vox_offset 0 in a single-file header means "right after the header" (as nibabel
 * repairs it); bitpix is not cross-checked (the datatype decides, as in nibabel); a slope of 0
 * or a non-finite slope means "no scaling"; extensions between header and data are skipped.
 */
export function parseNiftiHeader(bytes: Uint8Array, source: string, maxVoxels = 2 ** 31): ParsedNiftiHeader {
  const sniff = sniffNifti(bytes);
  if (!sniff) throw fileError('ERR_NIFTI_MAGIC', source, 'not a NIfTI file (sizeof_hdr is neither 348 nor 540)');
  if (bytes.length < sniff.headerSize) {
    throw fileError('ERR_NIFTI_TRUNCATED', source, `file ends inside the ${sniff.headerSize}-byte NIfTI-${sniff.version} header (${bytes.length} bytes)`);
  }
  const raw = readRaw(bytes, sniff.version, sniff.littleEndian);
  const headerError = (problem: string) => fileError('ERR_NIFTI_HEADER', source, `invalid NIfTI-${raw.version} header: ${problem}`);

  if (raw.version === 1) {
    if (raw.magic === 'ni1') throw fileError('ERR_NIFTI_MAGIC', source, 'is the header of a .hdr/.img pair; only single-file .nii is supported');
    if (raw.magic !== 'n+1') throw fileError('ERR_NIFTI_MAGIC', source, `bad NIfTI-1 magic ${JSON.stringify(raw.magic)} (expected "n+1")`);
  } else {
    if (raw.magic === 'ni2') throw fileError('ERR_NIFTI_MAGIC', source, 'is the header of a .hdr/.img pair; only single-file .nii is supported');
    if (raw.magic !== 'n+2') throw fileError('ERR_NIFTI_MAGIC', source, `bad NIfTI-2 magic ${JSON.stringify(raw.magic)} (expected "n+2")`);
  }

  const ndim = raw.dims[0];
  if (!(Number.isSafeInteger(ndim) && ndim >= 1 && ndim <= 7)) throw headerError(`dim[0] = ${ndim} (must be 1..7)`);
  for (let i = 1; i <= ndim; i++) {
    if (!(Number.isSafeInteger(raw.dims[i]) && raw.dims[i] >= 1)) throw headerError(`dim[${i}] = ${raw.dims[i]} (must be a positive integer)`);
  }
  if (ndim >= 4 && raw.dims[4] > 1) {
    throw fileError('ERR_NIFTI_DIMS', source, `has ${raw.dims[4]} time points (dim[4]); liverseg reads single 3D volumes`);
  }
  for (let i = 5; i <= ndim; i++) {
    if (raw.dims[i] > 1) throw fileError('ERR_NIFTI_DIMS', source, `has dim[${i}] = ${raw.dims[i]}; liverseg reads single 3D volumes`);
  }
  const shape: Vec3 = [raw.dims[1], ndim >= 2 ? raw.dims[2] : 1, ndim >= 3 ? raw.dims[3] : 1];

  const spacing = [0, 0, 0] as Vec3;
  for (let a = 0; a < 3; a++) {
    const p = raw.pixdim[a + 1];
    if (Number.isFinite(p) && p > 0) spacing[a] = p;
    else if (a + 1 > ndim) spacing[a] = 1;
    else throw headerError(`pixdim[${a + 1}] = ${p} (voxel size must be a positive number)`);
  }

  const dt = NIFTI_DATATYPES.get(raw.datatype);
  if (!dt) {
    const name = UNSUPPORTED_DATATYPES.get(raw.datatype);
    throw fileError(
      'ERR_NIFTI_DATATYPE',
      source,
      name
        ? `datatype ${name} (code ${raw.datatype}) is not supported; liverseg reads uint8, int8, int16, uint16, int32, uint32, float32 and float64`
        : `unknown NIfTI datatype code ${raw.datatype}`,
    );
  }

  let voxOffset = raw.voxOffset;
  if (!(Number.isFinite(voxOffset) && Number.isInteger(voxOffset) && voxOffset >= 0 && voxOffset <= Number.MAX_SAFE_INTEGER)) {
    throw headerError(`vox_offset = ${voxOffset} (must be a non-negative integer)`);
  }
  if (voxOffset === 0) voxOffset = raw.version === 1 ? NIFTI1_VOX_OFFSET : NIFTI2_VOX_OFFSET;
  if (voxOffset < sniff.headerSize) throw headerError(`vox_offset = ${voxOffset} lies inside the ${sniff.headerSize}-byte header`);

  let scaling: ParsedNiftiHeader['scaling'] = null;
  if (Number.isFinite(raw.sclSlope) && raw.sclSlope !== 0) {
    if (!Number.isFinite(raw.sclInter)) throw headerError(`scl_slope = ${raw.sclSlope} with scl_inter = ${raw.sclInter}`);
    if (!(raw.sclSlope === 1 && raw.sclInter === 0)) scaling = { slope: raw.sclSlope, inter: raw.sclInter };
  }

  const geometry: NiftiGeometry = {
    version: raw.version,
    dims: raw.dims,
    pixdim: raw.pixdim,
    qformCode: raw.qformCode,
    sformCode: raw.sformCode,
    quaternB: raw.quatern[0],
    quaternC: raw.quatern[1],
    quaternD: raw.quatern[2],
    qoffsetX: raw.quatern[3],
    qoffsetY: raw.quatern[4],
    qoffsetZ: raw.quatern[5],
    srowX: raw.srow[0],
    srowY: raw.srow[1],
    srowZ: raw.srow[2],
    xyztUnits: raw.xyztUnits,
    datatype: raw.datatype,
    sclSlope: raw.sclSlope,
    sclInter: raw.sclInter,
    description: raw.description,
  };
  // The affine rules read pixdim[1..3] as zooms; axes past dim[0] use the substituted spacing.
  const aff = affineFromGeometry({ ...geometry, pixdim: [raw.pixdim[0], ...spacing, ...raw.pixdim.slice(4)] });
  if ('problem' in aff) throw headerError(aff.problem);

  const voxels = shape[0] * shape[1] * shape[2];
  if (voxels > maxVoxels) {
    throw fileError('ERR_NIFTI_TOO_LARGE', source, `has ${shape.join('x')} = ${voxels} voxels, more than the limit of ${maxVoxels} (option maxVoxels)`);
  }
  return {
    geometry,
    littleEndian: raw.littleEndian,
    headerSize: sniff.headerSize,
    voxOffset,
    datatype: dt,
    shape,
    spacing,
    affine: aff.affine,
    scaling,
    voxels,
    bodyBytes: voxels * dt.bytes,
  };
}

/**
 * A header (plus the zeroed extension flag) ready to precede the voxels, little-endian.
 * Geometry fields are copied as they are; the caller decides datatype and version, and the
 * data written after it is already scaled, so scl_slope/scl_inter are always 1/0.
 */
export function encodeNiftiHeader(g: NiftiGeometry, datatype: NiftiDatatype, version: 1 | 2): Buffer {
  const voxOffset = version === 1 ? NIFTI1_VOX_OFFSET : NIFTI2_VOX_OFFSET;
  const buf = Buffer.alloc(voxOffset);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  const le = true;
  const srow = [g.srowX, g.srowY, g.srowZ];
  const quat = [g.quaternB, g.quaternC, g.quaternD, g.qoffsetX, g.qoffsetY, g.qoffsetZ];
  const desc = Buffer.from(g.description ?? '', 'latin1').subarray(0, 79);
  if (version === 1) {
    dv.setInt32(0, NIFTI1_HEADER_SIZE, le);
    buf.write('r', 38, 'latin1'); // "regular", which Analyze readers still look at
    for (let i = 0; i < 8; i++) dv.setInt16(40 + 2 * i, g.dims[i] ?? 1, le);
    dv.setInt16(70, datatype.code, le);
    dv.setInt16(72, datatype.bytes * 8, le);
    for (let i = 0; i < 8; i++) dv.setFloat32(76 + 4 * i, g.pixdim[i] ?? 0, le);
    dv.setFloat32(108, voxOffset, le);
    dv.setFloat32(112, 1, le);
    dv.setFloat32(116, 0, le);
    dv.setUint8(123, g.xyztUnits & 0xff);
    desc.copy(buf, 148);
    dv.setInt16(252, g.qformCode, le);
    dv.setInt16(254, g.sformCode, le);
    for (let i = 0; i < 6; i++) dv.setFloat32(256 + 4 * i, quat[i], le);
    for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) dv.setFloat32(280 + 16 * r + 4 * c, srow[r][c], le);
    buf.write('n+1\0', 344, 'latin1');
  } else {
    dv.setInt32(0, NIFTI2_HEADER_SIZE, le);
    buf.write('n+2\0\r\n\x1a\n', 4, 'latin1');
    dv.setInt16(12, datatype.code, le);
    dv.setInt16(14, datatype.bytes * 8, le);
    for (let i = 0; i < 8; i++) dv.setBigInt64(16 + 8 * i, BigInt(g.dims[i] ?? 1), le);
    for (let i = 0; i < 8; i++) dv.setFloat64(104 + 8 * i, g.pixdim[i] ?? 0, le);
    dv.setBigInt64(168, BigInt(voxOffset), le);
    dv.setFloat64(176, 1, le);
    dv.setFloat64(184, 0, le);
    desc.copy(buf, 240);
    dv.setInt32(344, g.qformCode, le);
    dv.setInt32(348, g.sformCode, le);
    for (let i = 0; i < 6; i++) dv.setFloat64(352 + 8 * i, quat[i], le);
    for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) dv.setFloat64(400 + 32 * r + 8 * c, srow[r][c], le);
    dv.setInt32(500, g.xyztUnits, le);
  }
  return buf;
}
