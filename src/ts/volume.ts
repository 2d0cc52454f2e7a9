/**
 * The shared currency of liverseg: a 3D image in NIfTI file order (i varies fastest).
 * The native side views `data` as a tensor of shape [nk, nj, ni] without copying it.
 */
import { invalidArg, describeValue } from './errors';

export type VoxelArray = Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

export type Vec3 = [number, number, number];

/** A 4x4 matrix, row-major (`affine[row][col]`), mapping voxel (i, j, k, 1) to RAS+ millimetres. */
export type Affine = number[][];

/** The parts of a NIfTI header that describe geometry; kept so a mask can be written in the CT's own geometry. */
export interface NiftiGeometry {
  version: 1 | 2;
  /** dim[0..7] as in the file. */
  dims: number[];
  /** pixdim[0..7] as in the file (pixdim[0] is qfac). */
  pixdim: number[];
  qformCode: number;
  sformCode: number;
  quaternB: number;
  quaternC: number;
  quaternD: number;
  qoffsetX: number;
  qoffsetY: number;
  qoffsetZ: number;
  srowX: number[];
  srowY: number[];
  srowZ: number[];
  xyztUnits: number;
  /** The datatype code of the file this geometry was read from. */
  datatype: number;
  sclSlope: number;
  sclInter: number;
  description: string;
}

/** One slice of a volume read from DICOM: the instance it came from (positions in DICOM's LPS millimetres). */
export interface DicomSliceInfo {
  sopInstanceUid: string;
  sopClassUid: string;
  imagePositionPatient: Vec3;
  instanceNumber: number | null;
  /** The file (or zip entry, or `<buffer N>`) it was read from. */
  file: string;
}

/**
 * Where a volume read from DICOM came from (see `loadDicomSeries`): the patient, study and series
 * attributes a DICOM SEG written for it must repeat, and per slice k the instance it was read from.
 * Empty strings stand for attributes that are absent or empty in the files.
 */
export interface DicomDescription {
  patient: { name: string; id: string; birthDate: string; sex: string };
  study: { instanceUid: string; date: string; time: string; id: string; accessionNumber: string; description: string; referringPhysicianName: string };
  series: {
    instanceUid: string;
    number: string;
    description: string;
    modality: string;
    frameOfReferenceUid: string;
    manufacturer: string;
    bodyPartExamined: string;
  };
  /** The transfer syntax UIDs the slices were stored in. */
  transferSyntaxUids: string[];
  rows: number;
  columns: number;
  /** PixelSpacing as in the files: [row spacing, column spacing] in mm. */
  pixelSpacing: [number, number];
  /** ImageOrientationPatient as in the files (LPS direction cosines of a row, then of a column). */
  imageOrientationPatient: number[];
  /** SliceThickness as in the files (not the spacing, which comes from the positions), or null. */
  sliceThickness: number | null;
  /** One entry per slice k of the volume, in the volume's slice order. Empty when `resampled`. */
  slices: DicomSliceInfo[];
  /** True when the slices were resampled (gantry tilt or uneven spacing corrected): they are no longer the files' slices. */
  resampled: boolean;
  /** Instances of the chosen series that were left out (localizers, other orientations or sizes), and why. */
  excluded: Array<{ file: string; reason: string }>;
}

export interface Volume<T extends VoxelArray = VoxelArray> {
  data: T;
  /** [ni, nj, nk] */
  shape: Vec3;
  /** Voxel size in mm, [si, sj, sk]. */
  spacing: Vec3;
  /** Voxel -> RAS mm. */
  affine: Affine;
  /** The header this volume was read with, when it came from a NIfTI file. */
  header?: NiftiGeometry;
  /** What the volume was read from, when it came from a DICOM series. */
  dicom?: DicomDescription;
}

export function voxelCount(shape: readonly number[]): number {
  return shape[0] * shape[1] * shape[2];
}

export function identityAffine(spacing: Vec3 = [1, 1, 1]): Affine {
  return [
    [spacing[0], 0, 0, 0],
    [0, spacing[1], 0, 0],
    [0, 0, spacing[2], 0],
    [0, 0, 0, 1],
  ];
}

/** Checks a value is a well-formed Volume and names what is wrong otherwise. */
export function assertVolume(v: unknown, name = 'volume'): asserts v is Volume {
  if (v === null || typeof v !== 'object') throw invalidArg(name, `expected a Volume object, got ${describeValue(v)}`);
  const vol = v as Partial<Volume>;
  assertShape(vol.shape, `${name}.shape`);
  const kind = ArrayBuffer.isView(vol.data) ? Object.prototype.toString.call(vol.data).slice(8, -1) : '';
  if (!VOXEL_ARRAY_TYPES.includes(kind)) {
    throw invalidArg(
      `${name}.data`,
      `expected one of ${VOXEL_ARRAY_TYPES.join(', ')}, got ${kind ? kind : describeValue(vol.data)}` +
        (kind.startsWith('Big') ? ' (64-bit integer voxels have no NIfTI or tensor type here: convert them to Int32Array or Float64Array)' : ''),
    );
  }
  const n = voxelCount(vol.shape);
  if ((vol.data as VoxelArray).length !== n) {
    throw invalidArg(`${name}.data`, `has ${(vol.data as VoxelArray).length} elements but shape ${describeValue(vol.shape)} needs ${n}`, 'ERR_SHAPE_MISMATCH');
  }
  if (!Array.isArray(vol.spacing) || vol.spacing.length !== 3 || !vol.spacing.every((s) => Number.isFinite(s) && s > 0)) {
    throw invalidArg(`${name}.spacing`, `expected 3 positive numbers, got ${describeValue(vol.spacing)}`);
  }
  if (!Array.isArray(vol.affine) || vol.affine.length !== 4 || !vol.affine.every((r) => Array.isArray(r) && r.length === 4 && r.every(Number.isFinite))) {
    throw invalidArg(`${name}.affine`, 'expected a 4x4 array of finite numbers');
  }
  if (vol.header !== undefined) assertNiftiGeometry(vol.header, `${name}.header`);
}

/** The element types a Volume's data may have, by constructor name. */
export const VOXEL_ARRAY_TYPES: readonly string[] = [
  'Uint8Array',
  'Int8Array',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
];

const GEOMETRY_NUMBERS = [
  'qformCode',
  'sformCode',
  'quaternB',
  'quaternC',
  'quaternD',
  'qoffsetX',
  'qoffsetY',
  'qoffsetZ',
  'xyztUnits',
  'datatype',
  'sclSlope',
  'sclInter',
] as const;
const GEOMETRY_ROWS = ['srowX', 'srowY', 'srowZ'] as const;

/** Checks a header has every NiftiGeometry field with its type, naming the first that is wrong. */
export function assertNiftiGeometry(h: unknown, name = 'header'): asserts h is NiftiGeometry {
  if (h === null || typeof h !== 'object' || Array.isArray(h))
    throw invalidArg(name, `expected a NIfTI geometry object (or no header), got ${describeValue(h)}`);
  const g = h as Record<string, unknown>;
  if (g.version !== 1 && g.version !== 2) throw invalidArg(`${name}.version`, `expected 1 or 2, got ${describeValue(g.version)}`);
  for (const k of ['dims', 'pixdim'] as const) {
    const v = g[k];
    if (!Array.isArray(v) || v.length !== 8 || !v.every((x) => typeof x === 'number'))
      throw invalidArg(`${name}.${k}`, `expected 8 numbers, got ${describeValue(v)}`);
  }
  for (const k of GEOMETRY_NUMBERS) if (typeof g[k] !== 'number') throw invalidArg(`${name}.${k}`, `expected a number, got ${describeValue(g[k])}`);
  for (const k of GEOMETRY_ROWS) {
    const v = g[k];
    if (!Array.isArray(v) || v.length !== 4 || !v.every((x) => typeof x === 'number'))
      throw invalidArg(`${name}.${k}`, `expected 4 numbers, got ${describeValue(v)}`);
  }
  if (typeof g.description !== 'string') throw invalidArg(`${name}.description`, `expected a string, got ${describeValue(g.description)}`);
}

export function assertShape(shape: unknown, name = 'shape'): asserts shape is Vec3 {
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((s) => Number.isInteger(s) && s > 0)) {
    throw invalidArg(name, `expected 3 positive integers [ni, nj, nk], got ${describeValue(shape)}`);
  }
}

/** A volume with the same geometry as `like` and new data. */
export function withData<T extends VoxelArray>(like: Volume, data: T, shape: Vec3 = like.shape): Volume<T> {
  const out: Volume<T> = { data, shape: [...shape] as Vec3, spacing: [...like.spacing] as Vec3, affine: like.affine.map((r) => [...r]) };
  if (like.header) out.header = like.header;
  return out;
}
