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
interface ReorientPlan {
  shape: Vec3;
  spacing: Vec3;
  /** Source offset step per destination axis, and the source offset of destination voxel 0. */
  step: Vec3;
  base: number;
  affine: Affine;
}

function reorientPlan(volume: Volume, o: AxisOrientation): ReorientPlan {
  const src = volume.shape;
  const stride = [1, src[0], src[0] * src[1]];
  const shape = [0, 0, 0] as Vec3;
  const spacing = [0, 0, 0] as Vec3;
  const step = [0, 0, 0] as Vec3;
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
  return { shape, spacing, step, base, affine: matmul4(volume.affine, t) };
}

/** Copies destination slices [k0, k1) of a reorientation. */
function copySlices(input: VoxelArray, data: VoxelArray, p: ReorientPlan, k0: number, k1: number): void {
  const [n0, n1] = p.shape;
  const [s0, s1, s2] = p.step;
  let idx = k0 * n0 * n1;
  for (let k = k0; k < k1; k++) {
    for (let j = 0; j < n1; j++) {
      let off = p.base + j * s1 + k * s2;
      if (s0 === 1) {
        // Rows stay contiguous (no flip or swap of the fastest axis): copy them whole.
        data.set(input.subarray(off, off + n0) as never, idx);
        idx += n0;
        continue;
      }
      for (let i = 0; i < n0; i++) {
        data[idx++] = input[off];
        off += s0;
      }
    }
  }
}

/** Voxels a reorientation copies between yields to the event loop (a few milliseconds of work). */
const SLAB_VOXELS = 1 << 20;

/** An empty volume on the reoriented grid, its header following the new affine. */
function reorientedVolume<T extends VoxelArray>(volume: Volume<T>, p: ReorientPlan): Volume<T> {
  const data = new (volume.data.constructor as { new (n: number): T })(volume.data.length);
  const out: Volume<T> = { data, shape: p.shape, spacing: p.spacing, affine: p.affine };
  if (volume.header) out.header = geometryFromAffine(p.affine, p.spacing, p.shape, volume.header);
  return out;
}

/**
 * The volume with its voxel axes permuted and flipped by `o` (source axis a becomes axis
 * o.axes[a], reversed where o.flips[a] is -1), its affine and header following so every voxel
 * keeps its place in the world. toCanonical, Orientation, flips and rot90 all move voxels this way.
 */
export function reorient<T extends VoxelArray>(volume: Volume<T>, o: AxisOrientation): Volume<T> {
  const p = reorientPlan(volume, o);
  const out = reorientedVolume(volume, p);
  copySlices(volume.data, out.data, p, 0, p.shape[2]);
  return out;
}

/** The same copy as {@link reorient}, in slabs with the event loop served between them. */
async function reorientAsync<T extends VoxelArray>(volume: Volume<T>, o: AxisOrientation): Promise<Volume<T>> {
  const p = reorientPlan(volume, o);
  const out = reorientedVolume(volume, p);
  const perSlice = Math.max(1, p.shape[0] * p.shape[1]);
  const slab = Math.max(1, Math.floor(SLAB_VOXELS / perSlice));
  for (let k = 0; k < p.shape[2]; k += slab) {
    copySlices(volume.data, out.data, p, k, Math.min(p.shape[2], k + slab));
    if (k + slab < p.shape[2]) await new Promise<void>((resolve) => setImmediate(resolve));
  }
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
  const { transform, identity, orientation } = canonicalTransform(volume);
  return { volume: identity ? volume : reorient(volume, orientation), transform };
}

/** {@link toCanonical} with the voxel copy in slabs, so the event loop keeps serving during a large volume's reorientation. */
export async function toCanonicalAsync<T extends VoxelArray>(volume: Volume<T>): Promise<{ volume: Volume<T>; transform: CanonicalTransform }> {
  const { transform, identity, orientation } = canonicalTransform(volume);
  return { volume: identity ? volume : await reorientAsync(volume, orientation), transform };
}

function canonicalTransform(volume: Volume): { transform: CanonicalTransform; identity: boolean; orientation: AxisOrientation } {
  assertVolume(volume);
  const orientation = ioOrientation(volume.affine);
  const transform: CanonicalTransform = {
    orientation,
    shape: [...volume.shape],
    spacing: [...volume.spacing],
    affine: cloneAffine(volume.affine),
  };
  if (volume.header) transform.header = volume.header;
  return { transform, identity: isIdentity(orientation), orientation };
}

/**
 * Undoes {@link toCanonical}: puts a volume in canonical voxel order (the canonical CT, or a mask
 * predicted on it) back into the original voxel order. When the volume's geometry is the canonical
 * geometry `toCanonical` produced, the result gets the original affine, spacing and header exactly
 * (no round-off), so it overlays the original file. Throws ERR_SHAPE_MISMATCH when the shape is not
 * the canonical shape.
 */
export function fromCanonical<T extends VoxelArray>(volume: Volume<T>, transform: CanonicalTransform): Volume<T> {
  const inverse = inverseOrientation(volume, transform);
  return restoreGeometry(isIdentity(inverse) ? shallowCopy(volume) : reorient(volume, inverse), transform);
}

/** {@link fromCanonical} with the voxel copy in slabs (see {@link toCanonicalAsync}). */
export async function fromCanonicalAsync<T extends VoxelArray>(volume: Volume<T>, transform: CanonicalTransform): Promise<Volume<T>> {
  const inverse = inverseOrientation(volume, transform);
  return restoreGeometry(isIdentity(inverse) ? shallowCopy(volume) : await reorientAsync(volume, inverse), transform);
}

function shallowCopy<T extends VoxelArray>(volume: Volume<T>): Volume<T> {
  return { ...volume, shape: [...volume.shape] as Vec3, spacing: [...volume.spacing] as Vec3, affine: cloneAffine(volume.affine) };
}

function inverseOrientation(volume: Volume, transform: CanonicalTransform): AxisOrientation {
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
  return inverse;
}

function restoreGeometry<T extends VoxelArray>(out: Volume<T>, transform: CanonicalTransform): Volume<T> {
  if (affinesClose(out.affine, transform.affine, 1e-9, 1e-6)) {
    out.affine = cloneAffine(transform.affine);
    out.spacing = [...transform.spacing];
    if (transform.header) out.header = transform.header;
    else delete out.header;
  }
  return out;
}
