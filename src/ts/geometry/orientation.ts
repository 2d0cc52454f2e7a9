/**
 * Voxel-axis orientation: which world direction each array axis runs along, and exact
 * reorientation to RAS (flips and axis permutations of the data, no interpolation).
 */
import { invalidArg } from '../errors';
import { assertVolume, NiftiGeometry, Vec3, Volume, VoxelArray } from '../volume';
import type { Affine } from '../volume';
import { affinesClose, cloneAffine, closestOrthogonal, columnNorms, det3, linearPart, matmul4 } from './affine';
import { geometryFromAffine } from './nifti-geometry';

/**
 * For each voxel axis a: `axes[a]` is the world axis (0 = x/R, 1 = y/A, 2 = z/S) it runs along
 * most closely, `flips[a]` is +1 when increasing the index moves towards R/A/S, -1 towards L/P/I.
 */
export interface AxisOrientation {
  axes: Vec3;
  flips: Vec3;
}

const CODES = [
  ['L', 'R'],
  ['P', 'A'],
  ['I', 'S'],
] as const;

/**
 * The orientation of an affine's voxel axes, chosen as nibabel's `io_orientation` does: take the
 * closest rotation to the direction matrix (so shear and obliquity do not bias it), then give
 * each voxel axis in turn the world axis it has the largest component along, never reusing one.
 * Throws ERR_INVALID_ARG for a singular or non-finite affine.
 */
export function ioOrientation(affine: Affine): AxisOrientation {
  const lin = linearPart(affine);
  if (!lin.every((r) => r.every(Number.isFinite)) || det3(lin) === 0) throw invalidArg('affine', 'is singular or not finite');
  const norms = columnNorms(affine);
  const r = closestOrthogonal(lin.map((row) => row.map((v, c) => v / norms[c])));
  const axes = [0, 0, 0] as Vec3;
  const flips = [1, 1, 1] as Vec3;
  for (let a = 0; a < 3; a++) {
    let best = -1;
    let bestAbs = -1;
    for (let w = 0; w < 3; w++) {
      const v = Math.abs(r[w][a]);
      if (v > bestAbs) {
        bestAbs = v;
        best = w;
      }
    }
    axes[a] = best;
    flips[a] = r[best][a] < 0 ? -1 : 1;
    r[best] = [0, 0, 0];
  }
  return { axes, flips };
}

/** Orientation codes of an affine's voxel axes, e.g. `'RAS'`, `'LPS'`, `'PSR'`. */
export function axcodes(affine: Affine): string {
  const { axes, flips } = ioOrientation(affine);
  return [0, 1, 2].map((a) => CODES[axes[a]][flips[a] > 0 ? 1 : 0]).join('');
}

/** What {@link toCanonical} did, so {@link fromCanonical} can undo it exactly. */
export interface CanonicalTransform {
  /** Orientation of the original volume's voxel axes. */
  orientation: AxisOrientation;
  /** The original grid: shape, spacing, affine and header (if any). */
  shape: Vec3;
  spacing: Vec3;
  affine: Affine;
  header?: NiftiGeometry;
}

function isIdentity(o: AxisOrientation): boolean {
  return o.axes[0] === 0 && o.axes[1] === 1 && o.axes[2] === 2 && o.flips.every((f) => f === 1);
}

/**
 * Moves source axis a to destination axis `axes[a]`, reversed where `flips[a]` is -1. The affine
 * is updated so every voxel keeps its world position; a header is rebuilt around the new affine.
 */
function reorient<T extends VoxelArray>(volume: Volume<T>, o: AxisOrientation): Volume<T> {
  const src = volume.shape;
  const stride = [1, src[0], src[0] * src[1]];
  const shape = [0, 0, 0] as Vec3;
  const spacing = [0, 0, 0] as Vec3;
  const step = [0, 0, 0];
  let base = 0;
  // t maps destination voxel coordinates to source voxel coordinates.
  const t: Affine = [
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 1],
  ];
  for (let a = 0; a < 3; a++) {
    const b = o.axes[a];
    shape[b] = src[a];
    spacing[b] = volume.spacing[a];
    step[b] = o.flips[a] * stride[a];
    if (o.flips[a] < 0) base += (src[a] - 1) * stride[a];
    t[a][b] = o.flips[a];
    t[a][3] = o.flips[a] < 0 ? src[a] - 1 : 0;
  }
  const input = volume.data;
  const data = new (input.constructor as { new (n: number): T })(input.length);
  let idx = 0;
  for (let k = 0; k < shape[2]; k++) {
    for (let j = 0; j < shape[1]; j++) {
      let off = base + j * step[1] + k * step[2];
      for (let i = 0; i < shape[0]; i++) {
        data[idx++] = input[off];
        off += step[0];
      }
    }
  }
  const affine = matmul4(volume.affine, t);
  const out: Volume<T> = { data, shape, spacing, affine };
  if (volume.header) out.header = geometryFromAffine(affine, spacing, shape, volume.header);
  return out;
}

/**
 * The volume reoriented to RAS+ voxel order (the closest canonical orientation, as nibabel's
 * `as_closest_canonical`): the data is flipped and its axes permuted, never interpolated, and the
 * affine is updated so each voxel keeps its world position. Returns the input volume itself when
 * it is already RAS, plus the transform that {@link fromCanonical} needs to restore the original
 * layout (for instance to bring a predicted mask back to the CT's own voxel order).
 */
export function toCanonical<T extends VoxelArray>(volume: Volume<T>): { volume: Volume<T>; transform: CanonicalTransform } {
  assertVolume(volume);
  const orientation = ioOrientation(volume.affine);
  const transform: CanonicalTransform = {
    orientation,
    shape: [...volume.shape],
    spacing: [...volume.spacing],
    affine: cloneAffine(volume.affine),
  };
  if (volume.header) transform.header = volume.header;
  return { volume: isIdentity(orientation) ? volume : reorient(volume, orientation), transform };
}

/**
 * Undoes {@link toCanonical}: puts a volume in canonical voxel order (the canonical CT, or a mask
 * predicted on it) back into the original voxel order. When the volume's geometry is the canonical
 * geometry `toCanonical` produced, the result gets the original affine, spacing and header exactly
 * (no round-off), so it overlays the original file. Throws ERR_SHAPE_MISMATCH when the shape is not
 * the canonical shape.
 */
export function fromCanonical<T extends VoxelArray>(volume: Volume<T>, transform: CanonicalTransform): Volume<T> {
  assertVolume(volume);
  const { axes, flips } = transform.orientation;
  const expected = [0, 0, 0] as Vec3;
  for (let a = 0; a < 3; a++) expected[axes[a]] = transform.shape[a];
  if (!expected.every((n, i) => n === volume.shape[i])) {
    throw invalidArg('volume.shape', `is ${volume.shape.join('x')} but the canonical shape is ${expected.join('x')}`, 'ERR_SHAPE_MISMATCH');
  }
  const inverse: AxisOrientation = { axes: [0, 0, 0], flips: [1, 1, 1] };
  for (let a = 0; a < 3; a++) {
    inverse.axes[axes[a]] = a;
    inverse.flips[axes[a]] = flips[a];
  }
  const out = isIdentity(inverse)
    ? { ...volume, shape: [...volume.shape] as Vec3, spacing: [...volume.spacing] as Vec3, affine: cloneAffine(volume.affine) }
    : reorient(volume, inverse);
  if (affinesClose(out.affine, transform.affine, 1e-9, 1e-6)) {
    out.affine = cloneAffine(transform.affine);
    out.spacing = [...transform.spacing];
    if (transform.header) out.header = transform.header;
    else delete out.header;
  }
  return out;
}
