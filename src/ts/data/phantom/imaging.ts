/**
 * Phantom stage 4: what the scanner adds. Where the grid lies (origin, affine, header), and image
 * formation: blur (3-tap, in-plane per slice and through-plane over a ring of slices), Gaussian
 * noise, rounding and clipping to int16 HU. Memory stays at a few slices beyond the output.
 */
import type { Affine, Vec3, Volume } from '../../volume';
import { geometryFromAffine } from '../../geometry/nifti-geometry';
import type { Rng } from '../../util/rng';
import type { Placement } from './anatomy';
import type { Grid, SliceSource } from './raster';

const { floor, max, min } = Math;

/** Where the voxel grid lies: in the body frame (for the raster) and in the scanner (the affine). */
export interface ScanGeometry {
  grid: Grid;
  /** Scanner-style LPS affine: diag(-si, -sj, sk) with the table's origin. */
  affine: Affine;
}

/** The grid of `shape` x `spacing` centred on the placement's field-of-view centre, and its affine. */
export function scanGeometry(shape: Vec3, spacing: Vec3, placement: Placement): ScanGeometry {
  const [ni, nj, nk] = shape;
  const centre = placement.fovCentre;
  const table = placement.table;
  // Body-frame coordinates of voxel (0,0,0); i runs to -x (left), j to -y (back), k to +z.
  const x0 = centre[0] + (spacing[0] * (ni - 1)) / 2;
  const y0 = centre[1] + (spacing[1] * (nj - 1)) / 2;
  const z0 = centre[2] - (spacing[2] * (nk - 1)) / 2;
  const affine: Affine = [
    [-spacing[0], 0, 0, x0 + table[0]],
    [0, -spacing[1], 0, y0 + table[1]],
    [0, 0, spacing[2], z0 + table[2]],
    [0, 0, 0, 1],
  ];
  return { grid: { shape: [ni, nj, nk], spacing: [spacing[0], spacing[1], spacing[2]], origin: [x0, y0, z0] }, affine };
}

/** A body-frame point in scanner (world) coordinates. */
export function toWorld(placement: Placement, p: Vec3): Vec3 {
  const t = placement.table;
  return [p[0] + t[0], p[1] + t[1], p[2] + t[2]];
}

/** Image formation settings. */
export interface ImagingOptions {
  /** Noise standard deviation, HU. */
  noiseSigma: number;
  /** Blur, Gaussian sigma in mm (converted per axis to voxels; 3 taps, so capped near 0.7 voxel). */
  blurSigmaMm: number;
}

/**
 * Side weight w of the 3-tap kernel [w, 1 - 2w, w] whose variance (2w) matches a Gaussian of
 * `sigma` voxels; capped at 0.25 ([1, 2, 1] / 4, sigma 0.71). "Slight blur" never needs more, and
 * three taps keep the blur to one read per neighbour.
 */
export function blurWeight(sigma: number): number {
  return min(0.25, (sigma * sigma) / 2);
}

/** Separable 3-tap in-plane blur of one slice (edges clamped); `tmp` is scratch, the result is back in `p`. */
export function blurPlane(p: Float32Array, tmp: Float32Array, ni: number, nj: number, wx: number, wy: number): void {
  if (wx > 0) {
    const c = 1 - 2 * wx;
    for (let j = 0; j < nj; j++) {
      const row = j * ni;
      const last = row + ni - 1;
      tmp[row] = c * p[row] + wx * (p[row] + p[row + (ni > 1 ? 1 : 0)]);
      for (let o = row + 1; o < last; o++) tmp[o] = c * p[o] + wx * (p[o - 1] + p[o + 1]);
      if (ni > 1) tmp[last] = c * p[last] + wx * (p[last - 1] + p[last]);
    }
  } else tmp.set(p);
  if (wy > 0) {
    const c = 1 - 2 * wy;
    for (let j = 0; j < nj; j++) {
      const dst = j * ni;
      const up = (j > 0 ? j - 1 : 0) * ni;
      const down = (j < nj - 1 ? j + 1 : nj - 1) * ni;
      for (let i = 0; i < ni; i++) p[dst + i] = c * tmp[dst + i] + wy * (tmp[up + i] + tmp[down + i]);
    }
  } else p.set(tmp);
}

/** A {@link SliceSource} reading slices of a whole float32 volume of `shape`. */
export function volumeSource(hu: Float32Array, shape: Vec3): SliceSource {
  const plane = shape[0] * shape[1];
  return (k, buf) => buf.set(hu.subarray(k * plane, (k + 1) * plane));
}

/**
 * Forms the int16 image (HU, clipped to -1024..3071) of the slices `source` paints, in order
 * k = 0, 1, ...: blur, then noise from `noise` (a 65536-entry Gaussian table indexed by xorshift32,
 * both drawn from `noise` up front). With noiseSigma 0 and blurSigmaMm 0 the image is the source
 * rounded to the nearest integer.
 */
export function formImage(source: SliceSource, shape: Vec3, spacing: Vec3, imaging: ImagingOptions, noise: Rng): Int16Array {
  const [ni, nj, nk] = shape;
  const plane = ni * nj;
  const { noiseSigma, blurSigmaMm } = imaging;
  const image = new Int16Array(plane * nk);
  const wx = blurWeight(blurSigmaMm / spacing[0]);
  const wy = blurWeight(blurSigmaMm / spacing[1]);
  const wz = blurWeight(blurSigmaMm / spacing[2]);
  const rz = wz > 0 ? 1 : 0;
  const ring = Array.from({ length: 2 * rz + 1 }, () => new Float32Array(plane));
  const tmp = new Float32Array(plane);
  const noiseTable = new Float32Array(65536);
  for (let t = 0; t < noiseTable.length; t++) noiseTable[t] = noise.normal() * noiseSigma;
  let ns = noise.nextU32() | 1;
  const finish = (q: number): void => {
    const cur = ring[q % ring.length];
    const prev = ring[max(0, q - rz) % ring.length];
    const next = ring[min(nk - 1, q + rz) % ring.length];
    const c = 1 - 2 * wz;
    const w = wz;
    const base = q * plane;
    const out = image;
    const table = noiseTable;
    // The generator state lives in a local for the loop: a captured variable would be loaded and
    // stored through the closure context on every voxel.
    let st = ns;
    for (let v = 0; v < plane; v++) {
      st ^= st << 13;
      st ^= st >>> 17;
      st ^= st << 5;
      let h = floor(c * cur[v] + w * (prev[v] + next[v]) + table[st >>> 16] + 0.5);
      if (h < -1024) h = -1024;
      else if (h > 3071) h = 3071;
      out[base + v] = h;
    }
    ns = st;
  };
  for (let k = 0; k < nk; k++) {
    const buf = ring[k % ring.length];
    source(k, buf);
    blurPlane(buf, tmp, ni, nj, wx, wy);
    if (k - rz >= 0) finish(k - rz);
  }
  for (let q = max(0, nk - rz); q < nk; q++) finish(q);
  return image;
}

/** The image and label volumes with their geometry and NIfTI headers (qform and sform codes 1). */
export function phantomVolumes(
  image: Int16Array,
  label: Uint8Array,
  shape: Vec3,
  spacing: Vec3,
  affine: Affine,
  seed: number,
): { image: Volume<Int16Array>; label: Volume<Uint8Array> } {
  const header = geometryFromAffine(affine, spacing, shape);
  const imageVol: Volume<Int16Array> = {
    data: image,
    shape: [...shape] as Vec3,
    spacing: [...spacing] as Vec3,
    affine,
    header: { ...header, datatype: 4, description: `liverseg phantom seed ${seed}` },
  };
  const labelVol: Volume<Uint8Array> = {
    data: label,
    shape: [...shape] as Vec3,
    spacing: [...spacing] as Vec3,
    affine: affine.map((r) => [...r]),
    header: { ...header, datatype: 2, description: `liverseg phantom seed ${seed} labels` },
  };
  return { image: imageVol, label: labelVol };
}
