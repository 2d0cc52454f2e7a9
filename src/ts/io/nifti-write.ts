/** Writing volumes as NIfTI (`.nii` or `.nii.gz`), atomically. */
import * as os from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { invalidArg } from '../errors';
import { assertVolume, NiftiGeometry, Volume } from '../volume';
import { affinesClose } from '../geometry/affine';
import { writeAll, writeFileAtomic } from './atomic-write';
import { affineFromGeometry, geometryFromAffine, geometryShape } from '../geometry/nifti-geometry';
import { datatypeOf, encodeNiftiHeader } from './nifti-header';

export interface SaveVolumeOptions {
  /** zlib level for `.nii.gz`, 0..9. Default 1: CT compresses nearly as well at 1 as at 6, several times faster. */
  gzipLevel?: number;
  /**
   * NIfTI version to write. Default: the version of `volume.header` if it has one, else 1; always
   * 2 when a dimension exceeds NIfTI-1's int16 limit of 32767.
   */
  version?: 1 | 2;
  /** fsync before the final rename. Default true. */
  fsync?: boolean;
}

const NIFTI1_MAX_DIM = 32767;
const MACHINE_LE = os.endianness() === 'LE';

function vec3Equal(a: readonly number[], b: readonly number[]): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
}

/**
 * Whether `volume.header` still describes the volume. Derived volumes (resampled, cropped,
 * reoriented by code that forgot to update the header) can carry a stale header; writing it
 * would put the data in the wrong place, so a stale header only lends its codes and labels.
 */
function headerDescribes(h: NiftiGeometry, volume: Volume): boolean {
  if (!Array.isArray(h.dims) || !Array.isArray(h.pixdim) || h.dims.length < 4 || h.pixdim.length < 4) return false;
  if (!vec3Equal(geometryShape(h), volume.shape)) return false;
  for (let a = 0; a < 3; a++) {
    const p = h.pixdim[a + 1];
    const usable = Number.isFinite(p) && p > 0;
    if (usable && Math.abs(p - volume.spacing[a]) > 1e-6 * Math.abs(p)) return false;
  }
  const pixdim = [h.pixdim[0], ...volume.spacing, ...h.pixdim.slice(4)];
  const aff = affineFromGeometry({ ...h, pixdim });
  return !('problem' in aff) && affinesClose(aff.affine, volume.affine, 1e-6, 1e-5);
}

/**
 * The geometry a volume is written with: its header verbatim when the header still matches the
 * volume's shape, spacing and affine; otherwise one built from `volume.affine` (sform = the affine,
 * qform = its rigid part), keeping the header's codes and labels when there is one.
 */
export function resolveGeometry(volume: Volume): NiftiGeometry {
  const h = volume.header;
  if (h && headerDescribes(h, volume)) return h;
  return geometryFromAffine(volume.affine, volume.spacing, volume.shape, h);
}

/** Header and voxel bytes for a volume, without copying the voxels where the machine is little-endian. */
function niftiParts(volume: Volume, version?: 1 | 2): { header: Buffer; body: Buffer } {
  assertVolume(volume);
  if (version !== undefined && version !== 1 && version !== 2) throw invalidArg('options.version', `expected 1 or 2, got ${String(version)}`);
  const dt = datatypeOf(volume.data);
  const g = resolveGeometry(volume);
  const big = volume.shape.some((n) => n > NIFTI1_MAX_DIM);
  if (version === 1 && big) throw invalidArg('options.version', `NIfTI-1 cannot hold dimensions above ${NIFTI1_MAX_DIM} (shape ${volume.shape.join('x')})`);
  const v: 1 | 2 = big ? 2 : (version ?? (g.version === 2 ? 2 : 1));
  const header = encodeNiftiHeader(g, dt, v);
  let body = Buffer.from(volume.data.buffer, volume.data.byteOffset, volume.data.byteLength);
  if (!MACHINE_LE && dt.bytes > 1) {
    body = Buffer.from(body);
    if (dt.bytes === 2) body.swap16();
    else if (dt.bytes === 4) body.swap32();
    else body.swap64();
  }
  return { header, body };
}

/**
 * The bytes of an uncompressed `.nii` file for `volume` (geometry as {@link saveVolume} writes it).
 * Useful for services that return files without touching the disk.
 */
export function encodeNifti(volume: Volume, options: Pick<SaveVolumeOptions, 'version'> = {}): Buffer {
  const { header, body } = niftiParts(volume, options.version);
  return Buffer.concat([header, body]);
}

/**
 * Writes `volume` to `path` as NIfTI: `.nii` plain, `.nii.gz` gzipped (the name decides).
 *
 * - Datatype follows the typed array (Uint8Array -> uint8, Int16Array -> int16, ...).
 * - Geometry: when `volume.header` (from `loadVolume` or `maskLike`) still matches the volume's
 *   shape, spacing and affine, its dim, pixdim (with qfac), qform and sform (with codes and
 *   quaternion), xyzt_units and description are written exactly as they were read. Otherwise the
 *   sform is `volume.affine` and the qform its rigid part, both with code 1 (scanner anatomical)
 *   unless a header supplies the codes.
 * - scl_slope is 1 and scl_inter 0: data is stored as it is in memory (already scaled on read).
 * - NIfTI-1 unless `options.version` or the header says 2, or a dimension exceeds 32767.
 * - Atomic: written to a temporary file in the same directory and renamed into place, so a
 *   failure leaves neither a partial file nor a changed target.
 *
 * Rejects with ERR_INVALID_ARG for a bad volume, name or option and ERR_IO for write failures.
 */
export async function saveVolume(path: string, volume: Volume, options: SaveVolumeOptions = {}): Promise<void> {
  if (typeof path !== 'string' || !/\.nii(\.gz)?$/i.test(path)) {
    throw invalidArg('path', `expected a file name ending in .nii or .nii.gz, got ${JSON.stringify(path)}`);
  }
  const gz = /\.gz$/i.test(path);
  const level = options.gzipLevel ?? 1;
  if (!(Number.isInteger(level) && level >= 0 && level <= 9)) throw invalidArg('options.gzipLevel', `expected an integer 0..9, got ${String(level)}`);
  const { header, body } = niftiParts(volume, options.version);
  await writeFileAtomic(
    path,
    async (fh) => {
      if (!gz) {
        await writeAll(fh, header);
        await writeAll(fh, body);
        return;
      }
      const gzip = zlib.createGzip({ level, chunkSize: 1 << 20 });
      await pipeline(Readable.from([header, body]), gzip, async (chunks: AsyncIterable<Buffer>) => {
        for await (const c of chunks) await writeAll(fh, c);
      });
    },
    { fsync: options.fsync },
  );
}
