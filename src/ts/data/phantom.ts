/**
 * Synthetic abdominal CT phantoms with liver labels, for tests, demos and benchmarks where the MSD
 * data is not available. Anatomy is laid out in millimetres in the patient's RAS frame, so phantoms
 * at different spacings show the same body; the volume is then sampled slice by slice (paint,
 * in-plane blur, through-plane blur over a small ring of slices, noise) so memory stays at a few
 * slices beyond the output and a 512x512x200 phantom takes about a second.
 */
import { invalidArg, describeValue } from '../errors';
import type { Affine, Vec3, Volume } from '../volume';
import { geometryFromAffine } from '../io';
import { Rng } from '../util/rng';

// Module-level aliases: a global `Math` lookup per call is costly in hot loops (very much so
// inside jest's vm sandbox), a module constant is not.
const { abs, atan2, ceil, cos, floor, hypot, max, min, sin, sqrt } = Math;


/** Options of {@link makePhantom}. Every random choice defaults from `seed`. */
export interface PhantomOptions {
  /** Output shape [ni, nj, nk]. */
  shape: number[];
  /**
   * Voxel size in mm. Default: chosen so the field of view is a clinical one (300..460 mm across, which is
   * 0.6..0.9 mm in-plane at 512 px; 200..400 mm long, 1..2 mm slices at 200 slices).
   */
  spacing?: number[];
  /** Seed for every random choice. Default 0. */
  seed?: number;
  /** Contrast-enhanced (portal venous) phase: liver about 100 HU and a bright aorta. Default random (70 % yes). */
  contrast?: boolean;
  /** Number of liver tumours, 0..3. Default random. */
  tumours?: number;
  /** Image noise standard deviation in HU. Default uniform 10..25. */
  noiseSigma?: number;
  /** Blur (Gaussian sigma in mm, per axis converted to voxels); 0 disables. Default uniform 0.6..1.0. */
  blurSigmaMm?: number;
  /**
   * Field-of-view centre offset from the default position, in mm [x, y, z] (RAS). Default random:
   * up to 25 mm sideways, 20 mm front-back and 30 % of the field of view along z, so the liver is
   * sometimes cut by the volume's edge (its centre always stays inside).
   */
  fovShift?: number[];
}

/** What a phantom contains, in world (RAS mm) coordinates. */
export interface PhantomInfo {
  seed: number;
  spacing: Vec3;
  contrast: boolean;
  noiseSigma: number;
  blurSigmaMm: number;
  /** Mean tissue values (before noise and blur), HU. */
  hu: { air: number; fat: number; muscle: number; liver: number; spleen: number; bone: number; lung: number };
  /** Centre of the liver's main (right) lobe. */
  liverCentre: Vec3;
  /** Centre of the spleen. */
  spleenCentre: Vec3;
  tumours: { centre: Vec3; radius: number; hu: number }[];
}

/** A phantom: int16 CT in HU, uint8 labels (0 background, 1 liver, 2 tumour), and what it contains. */
export interface Phantom {
  image: Volume<Int16Array>;
  label: Volume<Uint8Array>;
  info: PhantomInfo;
}

interface Ellipsoid {
  c: Vec3;
  /** Semi-axes in mm (before rotation about z). */
  a: Vec3;
  /** Rotation about z, radians. */
  rot: number;
}

/** A smooth organ: union of ellipsoids, radially deformed by a few low-frequency waves. */
interface Blob {
  parts: Ellipsoid[];
  amp: number[];
  freq: Vec3[];
  phase: number[];
  /** Keep inside the abdominal cavity (organs lie against the wall, never through it). */
  clip: boolean;
}

const TAU = 2 * Math.PI;

function ellipsoidR2(e: Ellipsoid, x: number, y: number, z: number): number {
  const dx = x - e.c[0];
  const dy = y - e.c[1];
  const c = cos(e.rot);
  const s = sin(e.rot);
  const u = (c * dx + s * dy) / e.a[0];
  const v = (-s * dx + c * dy) / e.a[1];
  const w = (z - e.c[2]) / e.a[2];
  return u * u + v * v + w * w;
}

function deformation(b: Blob, x: number, y: number, z: number): number {
  let d = 0;
  for (let m = 0; m < b.amp.length; m++) d += b.amp[m] * sin(b.freq[m][0] * x + b.freq[m][1] * y + b.freq[m][2] * z + b.phase[m]);
  return d;
}

function ampSum(b: Blob): number {
  return b.amp.reduce((s, a) => s + abs(a), 0);
}

/** Axis-aligned bounds of a blob in mm: [min, max] per axis. */
function blobBounds(b: Blob): [Vec3, Vec3] {
  const grow = 1 / (1 - min(0.5, ampSum(b)));
  const lo: Vec3 = [Infinity, Infinity, Infinity];
  const hi: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (const e of b.parts) {
    const c = cos(e.rot);
    const s = sin(e.rot);
    const ext = [hypot(e.a[0] * c, e.a[1] * s), hypot(e.a[0] * s, e.a[1] * c), e.a[2]];
    for (let d = 0; d < 3; d++) {
      lo[d] = min(lo[d], e.c[d] - ext[d] * grow);
      hi[d] = max(hi[d], e.c[d] + ext[d] * grow);
    }
  }
  return [lo, hi];
}

function randomWaves(rng: Rng, n: number, amp: number, wavelength: [number, number]): Pick<Blob, 'amp' | 'freq' | 'phase'> {
  const out: Pick<Blob, 'amp' | 'freq' | 'phase'> = { amp: [], freq: [], phase: [] };
  for (let m = 0; m < n; m++) {
    // A random direction (normalised Gaussian vector) and a wavelength in mm.
    let v = [rng.normal(), rng.normal(), rng.normal()];
    const len = hypot(v[0], v[1], v[2]) || 1;
    const k = TAU / rng.uniform(wavelength[0], wavelength[1]);
    v = v.map((x) => (x / len) * k);
    out.freq.push([v[0], v[1], v[2]]);
    out.amp.push(amp * rng.uniform(0.5, 1));
    out.phase.push(rng.uniform(0, TAU));
  }
  return out;
}

/** Field-of-view defaults: clinical sizes, see {@link PhantomOptions.spacing}. */
function defaultSpacing(shape: Vec3, rng: Rng): Vec3 {
  const inPlane = rng.uniform(300, 460) / max(shape[0], shape[1]);
  const zFov = rng.uniform(200, 400);
  return [inPlane, inPlane, zFov / shape[2]];
}

/**
 * Side weight w of the 3-tap kernel [w, 1 - 2w, w] whose variance (2w) matches a Gaussian of
 * `sigma` voxels; capped at 0.25 ([1, 2, 1] / 4, sigma 0.71). "Slight blur" never needs more, and
 * three taps keep the blur to one read per neighbour.
 */
function blurWeight(sigma: number): number {
  return min(0.25, (sigma * sigma) / 2);
}

/** Separable 3-tap in-plane blur of one slice (edges clamped); `tmp` is scratch, the result is back in `p`. */
function blurPlane(p: Float32Array, tmp: Float32Array, ni: number, nj: number, wx: number, wy: number): void {
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

function checkOptions(o: PhantomOptions): { shape: Vec3 } {
  if (o === null || typeof o !== 'object') throw invalidArg('options', `expected an object, got ${describeValue(o)}`);
  const s = o.shape;
  if (!Array.isArray(s) || s.length !== 3 || !s.every((n) => Number.isInteger(n) && n >= 1 && n <= 4096)) {
    throw invalidArg('shape', `expected 3 integers in 1..4096, got ${describeValue(s)}`);
  }
  if (o.spacing !== undefined && (!Array.isArray(o.spacing) || o.spacing.length !== 3 || !o.spacing.every((x) => typeof x === 'number' && x > 0 && Number.isFinite(x)))) {
    throw invalidArg('spacing', `expected 3 positive numbers (mm), got ${describeValue(o.spacing)}`);
  }
  if (o.tumours !== undefined && !(Number.isInteger(o.tumours) && o.tumours >= 0 && o.tumours <= 3)) {
    throw invalidArg('tumours', `expected an integer 0..3, got ${describeValue(o.tumours)}`);
  }
  if (o.noiseSigma !== undefined && !(typeof o.noiseSigma === 'number' && o.noiseSigma >= 0 && Number.isFinite(o.noiseSigma))) {
    throw invalidArg('noiseSigma', `expected a non-negative number, got ${describeValue(o.noiseSigma)}`);
  }
  if (o.blurSigmaMm !== undefined && !(typeof o.blurSigmaMm === 'number' && o.blurSigmaMm >= 0 && Number.isFinite(o.blurSigmaMm))) {
    throw invalidArg('blurSigmaMm', `expected a non-negative number, got ${describeValue(o.blurSigmaMm)}`);
  }
  if (o.fovShift !== undefined && (!Array.isArray(o.fovShift) || o.fovShift.length !== 3 || !o.fovShift.every(Number.isFinite))) {
    throw invalidArg('fovShift', `expected 3 numbers (mm), got ${describeValue(o.fovShift)}`);
  }
  return { shape: [s[0], s[1], s[2]] };
}

/**
 * A synthetic abdominal CT in HU (int16) with its liver label (uint8: 1 liver, 2 tumour).
 *
 * Contents: air outside an elliptic body; subcutaneous fat; a muscle wall and muscle-density inner
 * tissue; lung bases above the diaphragm; spine (vertebral bodies with discs, canal, spinous
 * processes) and obliquely running ribs; a deformed liver in the patient's right upper abdomen,
 * pressed against the body wall, with 0..3 hypodense tumours; a spleen of liver-like density on the
 * left; kidneys; the aorta; bowel gas. Then blur and Gaussian noise. The affine is a scanner's
 * LPS-style one, diag(-si, -sj, sk) with an origin, so voxel i runs towards the patient's left and j
 * towards the back, as in a DICOM series; the header has qform and sform codes 1.
 * The same options and seed give the same phantom, bit for bit.
 */
export function makePhantom(options: PhantomOptions): Phantom {
  const { shape } = checkOptions(options);
  const seed = options.seed ?? 0;
  const rng = new Rng(seed);
  // Separate streams for geometry and noise: changing the noise level leaves the anatomy alone.
  const geo = rng.fork();
  const noiseRng = rng.fork();
  const [ni, nj, nk] = shape;

  const spacing: Vec3 = options.spacing ? [options.spacing[0], options.spacing[1], options.spacing[2]] : defaultSpacing(shape, geo);
  const contrast = options.contrast ?? geo.next() < 0.7;
  const nTumours = options.tumours ?? geo.int(4);
  const noiseSigma = options.noiseSigma ?? geo.uniform(10, 25);
  const blurSigmaMm = options.blurSigmaMm ?? geo.uniform(0.6, 1.0);

  // Tissue values.
  const hu = {
    air: -1000,
    fat: geo.uniform(-115, -85),
    muscle: geo.uniform(35, 50),
    liver: contrast ? geo.uniform(90, 115) : geo.uniform(50, 70),
    spleen: 0,
    bone: geo.uniform(700, 1000),
    lung: geo.uniform(-880, -820),
  };
  hu.spleen = hu.liver + geo.uniform(-10, 10);
  const cancellous = geo.uniform(300, 400);
  const inner = hu.muscle + geo.uniform(-10, 0);
  const kidneyHU = contrast ? geo.uniform(140, 190) : geo.uniform(25, 35);
  const aortaHU = contrast ? geo.uniform(150, 250) : geo.uniform(35, 50);

  // Body: elliptic cylinder whose size drifts slowly along z.
  const W = geo.uniform(140, 175);
  const D = geo.uniform(100, 125);
  const tf = geo.uniform(8, 25);
  const tm = geo.uniform(8, 14);
  const bodyWave = { amp: geo.uniform(0.02, 0.05), k: TAU / geo.uniform(300, 600), ph: geo.uniform(0, TAU) };
  const bodyScale = (z: number): number => 1 + bodyWave.amp * sin(bodyWave.k * z + bodyWave.ph);
  const Wc = W - tf - tm; // abdominal cavity at z = 0 (scaled like the body elsewhere)
  const Dc = D - tf - tm;

  // Liver: right lobe against the right wall, left lobe reaching across the midline in front,
  // a posterior part; tilted a little; z = 0 is the level of the right lobe's centre.
  const ls = geo.uniform(0.85, 1.05);
  const liverTilt = geo.uniform(-0.25, 0.05);
  const liver: Blob = {
    parts: [
      { c: [Wc * 0.5, -Dc * 0.05, 0], a: [Wc * 0.6 * ls, Dc * 0.72 * ls, geo.uniform(70, 90) * ls], rot: liverTilt },
      { c: [-Wc * 0.08, Dc * 0.38, geo.uniform(10, 30)], a: [Wc * 0.42 * ls, Dc * 0.28 * ls, geo.uniform(35, 50) * ls], rot: geo.uniform(-0.3, 0.1) },
      { c: [Wc * 0.3, -Dc * 0.3, geo.uniform(-20, 0)], a: [Wc * 0.3 * ls, Dc * 0.35 * ls, geo.uniform(50, 65) * ls], rot: 0 },
    ],
    ...randomWaves(geo, 3, 0.07, [80, 200]),
    clip: true,
  };
  const spleen: Blob = {
    parts: [{ c: [-Wc * 0.62, -Dc * 0.38, geo.uniform(0, 25)], a: [geo.uniform(18, 26), geo.uniform(40, 55), geo.uniform(45, 60)], rot: geo.uniform(0.4, 0.8) }],
    ...randomWaves(geo, 2, 0.06, [60, 150]),
    clip: true,
  };
  const kidneys: Blob[] = [1, -1].map((side) => ({
    parts: [{ c: [side * geo.uniform(45, 58), -Dc * 0.5, side > 0 ? geo.uniform(-95, -70) : geo.uniform(-80, -55)], a: [geo.uniform(24, 30), geo.uniform(20, 26), geo.uniform(48, 60)], rot: side * geo.uniform(0.3, 0.6) }],
    ...randomWaves(geo, 2, 0.04, [50, 120]),
    clip: true,
  }));
  const lungs: Blob[] = [1, -1].map((side) => ({
    parts: [{ c: [side * Wc * 0.5, -Dc * 0.1, geo.uniform(150, 175)], a: [Wc * 0.48, Dc * 0.8, geo.uniform(100, 120)], rot: 0 }],
    ...randomWaves(geo, 2, 0.04, [80, 200]),
    clip: true,
  }));
  const gas: { blob: Blob; hu: number }[] = [];
  const nGas = 3 + geo.int(6);
  for (let g = 0; g < nGas; g++) {
    const stomach = g === 0; // the stomach's gas cap, under the left diaphragm
    const c: Vec3 = stomach
      ? [-Wc * geo.uniform(0.25, 0.45), Dc * geo.uniform(0.0, 0.3), geo.uniform(20, 60)]
      : [Wc * geo.uniform(-0.6, 0.5), Dc * geo.uniform(-0.1, 0.7), geo.uniform(-160, -40)];
    const r = stomach ? geo.uniform(18, 30) : geo.uniform(6, 20);
    gas.push({
      blob: { parts: [{ c, a: [r * geo.uniform(0.8, 1.3), r * geo.uniform(0.6, 1), r * geo.uniform(0.8, 1.5)], rot: geo.uniform(0, Math.PI) }], ...randomWaves(geo, 2, 0.1, [20, 60]), clip: true },
      hu: geo.uniform(-1000, -500),
    });
  }
  const spineY = -D + geo.uniform(70, 80);
  const vb = { rx: geo.uniform(18, 22), ry: geo.uniform(14, 17) };
  const discPeriod = geo.uniform(28, 34);
  const discPhase = geo.uniform(0, discPeriod);
  const aorta = { x: -geo.uniform(8, 16), y: spineY + vb.ry + geo.uniform(10, 14), r: geo.uniform(10, 13) };
  const ribBottom = geo.uniform(-70, -40);
  const ribPeriod = geo.uniform(28, 34);
  const ribPhase = geo.uniform(0, ribPeriod);
  const ribSlope = geo.uniform(50, 80);

  const blobContains = (b: Blob, x: number, y: number, z: number): boolean => {
    const s = bodyScale(z);
    if (b.clip && (x / (Wc * s)) ** 2 + (y / (Dc * s)) ** 2 >= 1) return false;
    let r2 = Infinity;
    for (const e of b.parts) r2 = min(r2, ellipsoidR2(e, x, y, z));
    const d = 1 + deformation(b, x, y, z);
    return r2 * d * d < 1;
  };
  // Where the liver is and no organ painted after it takes the place (see paintBodySlice).
  const liverContains = (x: number, y: number, z: number): boolean =>
    blobContains(liver, x, y, z) &&
    !blobContains(spleen, x, y, z) &&
    !kidneys.some((kd) => blobContains(kd, x, y, z)) &&
    (x - aorta.x) ** 2 + (y - aorta.y) ** 2 >= aorta.r ** 2 &&
    (x / 12) ** 2 + ((y - (spineY - vb.ry - 9)) / 11) ** 2 >= 1 &&
    (x / vb.rx) ** 2 + ((y - spineY) / vb.ry) ** 2 >= 1;
  const tumours: { blob: Blob; hu: number; centre: Vec3; radius: number }[] = [];
  const [llo, lhi] = blobBounds(liver);
  for (let t = 0; t < nTumours; t++) {
    const radius = geo.uniform(5, 25);
    for (let attempt = 0; attempt < 200; attempt++) {
      const c: Vec3 = [geo.uniform(llo[0], lhi[0]), geo.uniform(llo[1], lhi[1]), geo.uniform(llo[2], lhi[2])];
      // Mostly intrahepatic: the centre and six points half a radius away lie in the liver.
      const h = radius / 2;
      const probes: Vec3[] = [c, [c[0] + h, c[1], c[2]], [c[0] - h, c[1], c[2]], [c[0], c[1] + h, c[2]], [c[0], c[1] - h, c[2]], [c[0], c[1], c[2] + h], [c[0], c[1], c[2] - h]];
      if (!probes.every((q) => liverContains(q[0], q[1], q[2]))) continue;
      tumours.push({
        blob: { parts: [{ c, a: [radius * geo.uniform(0.8, 1.2), radius * geo.uniform(0.8, 1.2), radius * geo.uniform(0.8, 1.2)], rot: geo.uniform(0, Math.PI) }], ...randomWaves(geo, 2, 0.08, [15, 50]), clip: true },
        hu: geo.uniform(20, 40),
        centre: c,
        radius,
      });
      break;
    }
  }

  // Field of view: by default centred a little right of and above the liver's centre, then shifted.
  const fov: Vec3 = [ni * spacing[0], nj * spacing[1], nk * spacing[2]];
  const shift: Vec3 = options.fovShift
    ? [options.fovShift[0], options.fovShift[1], options.fovShift[2]]
    : [geo.uniform(-25, 25), geo.uniform(-20, 20), geo.uniform(-0.3, 0.3) * fov[2]];
  const centre: Vec3 = [Wc * 0.1 + shift[0], shift[1], 10 + shift[2]];
  // Body-frame coordinates of voxel (0,0,0); i runs to -x (left), j to -y (back), k to +z.
  const x0 = centre[0] + (spacing[0] * (ni - 1)) / 2;
  const y0 = centre[1] + (spacing[1] * (nj - 1)) / 2;
  const z0 = centre[2] - (spacing[2] * (nk - 1)) / 2;
  // Where the scanner puts the body frame: a table position, as real headers have.
  const table: Vec3 = [geo.uniform(-15, 15), geo.uniform(-40, 40), geo.uniform(-600, -150)];
  const affine: Affine = [
    [-spacing[0], 0, 0, x0 + table[0]],
    [0, -spacing[1], 0, y0 + table[1]],
    [0, 0, spacing[2], z0 + table[2]],
    [0, 0, 0, 1],
  ];
  const toWorld = (p: Vec3): Vec3 => [p[0] + table[0], p[1] + table[1], p[2] + table[2]];

  const xs = new Float64Array(ni);
  for (let i = 0; i < ni; i++) xs[i] = x0 - spacing[0] * i;
  const x2 = xs.map((x) => x * x);

  const image = new Int16Array(ni * nj * nk);
  const label = new Uint8Array(ni * nj * nk);
  const plane = ni * nj;

  // Per-blob lookups: voxel ranges, and the x-dependent halves of sin(a + b) so the deformation
  // costs multiplications, not sines, per voxel.
  interface Prepared {
    blob: Blob;
    lo: Vec3;
    hi: Vec3;
    sx: Float64Array[];
    cx: Float64Array[];
    inner2: number;
    outer2: number;
    rotC: number[];
    rotS: number[];
  }
  const prep = (blob: Blob): Prepared => {
    const [lo, hi] = blobBounds(blob);
    const A = min(0.5, ampSum(blob));
    return {
      blob,
      lo,
      hi,
      sx: blob.freq.map((f) => xs.map((x) => sin(f[0] * x))),
      cx: blob.freq.map((f) => xs.map((x) => cos(f[0] * x))),
      inner2: 1 / ((1 + A) * (1 + A)),
      outer2: 1 / ((1 - A) * (1 - A)),
      rotC: blob.parts.map((e) => cos(e.rot)),
      rotS: blob.parts.map((e) => sin(e.rot)),
    };
  };
  const iRange = (lo: number, hi: number): [number, number] => [max(0, ceil((x0 - hi) / spacing[0])), min(ni - 1, floor((x0 - lo) / spacing[0]))];
  const jRange = (lo: number, hi: number): [number, number] => [max(0, ceil((y0 - hi) / spacing[1])), min(nj - 1, floor((y0 - lo) / spacing[1]))];

  const nParts = 4;
  const U0 = new Float64Array(nParts);
  const V0 = new Float64Array(nParts);
  const W2 = new Float64Array(nParts);
  const IA = new Float64Array(nParts);
  const IB = new Float64Array(nParts);
  const SB = new Float64Array(4);
  const CB = new Float64Array(4);

  /**
   * Paints `p` into slice `k`: plane value `value`, and label `labelValue` (when >= 0). With
   * `onlyLabel`, only where the label already equals it (tumours stay inside the liver).
   */
  const paint = (p: Prepared, k: number, z: number, buf: Float32Array, value: number, labelValue: number, onlyLabel: number): void => {
    if (z < p.lo[2] || z > p.hi[2]) return;
    const b = p.blob;
    const s = bodyScale(z);
    const invWc2 = 1 / (Wc * s * Wc * s);
    const invDc2 = 1 / (Dc * s * Dc * s);
    const np = b.parts.length;
    for (let q = 0; q < np; q++) {
      const e = b.parts[q];
      const w = (z - e.c[2]) / e.a[2];
      W2[q] = w * w;
      IA[q] = 1 / e.a[0];
      IB[q] = 1 / e.a[1];
    }
    const [i0, i1] = iRange(p.lo[0], p.hi[0]);
    const [j0, j1] = jRange(p.lo[1], p.hi[1]);
    const nw = b.amp.length;
    const lbase = k * plane;
    for (let j = j0; j <= j1; j++) {
      const y = y0 - spacing[1] * j;
      const cavY = y * y * invDc2;
      if (b.clip && cavY >= 1) continue;
      let anyRow = false;
      for (let q = 0; q < np; q++) {
        const e = b.parts[q];
        const dy = y - e.c[1];
        U0[q] = -p.rotC[q] * e.c[0] + p.rotS[q] * dy;
        V0[q] = p.rotS[q] * e.c[0] + p.rotC[q] * dy;
        if (W2[q] < p.outer2) anyRow = true;
      }
      if (!anyRow) continue;
      for (let m = 0; m < nw; m++) {
        const ph = b.freq[m][1] * y + b.freq[m][2] * z + b.phase[m];
        SB[m] = sin(ph);
        CB[m] = cos(ph);
      }
      const row = j * ni;
      for (let i = i0; i <= i1; i++) {
        const o = row + i;
        if (onlyLabel >= 0 && label[lbase + o] !== onlyLabel) continue;
        const x = xs[i];
        if (b.clip && x2[i] * invWc2 + cavY >= 1) continue;
        let r2 = Infinity;
        for (let q = 0; q < np; q++) {
          const u = (p.rotC[q] * x + U0[q]) * IA[q];
          const v = (-p.rotS[q] * x + V0[q]) * IB[q];
          const t = u * u + v * v + W2[q];
          if (t < r2) r2 = t;
        }
        if (r2 >= p.outer2) continue;
        if (r2 > p.inner2) {
          let d = 1;
          for (let m = 0; m < nw; m++) d += b.amp[m] * (p.sx[m][i] * CB[m] + p.cx[m][i] * SB[m]);
          if (r2 * d * d >= 1) continue;
        }
        buf[o] = value;
        if (labelValue >= 0) label[lbase + o] = labelValue;
      }
    }
  };

  const pLiver = prep(liver);
  const pSpleen = prep(spleen);
  const pKidneys = kidneys.map(prep);
  const pLungs = lungs.map(prep);
  const pGas = gas.map((g) => ({ p: prep(g.blob), hu: g.hu }));
  const pTumours = tumours.map((t) => ({ p: prep(t.blob), hu: t.hu }));

  /**
   * Fills the x-span of ellipse ((x - xc)/a)^2 + ((y - yc)/b)^2 < 1 in one row; with `lrow` >= 0
   * (the row's offset in the label volume) also clears the label there.
   */
  const fillEllipseRow = (buf: Float32Array, row: number, y: number, xc: number, yc: number, a: number, b: number, value: number, lrow = -1): void => {
    const t = 1 - ((y - yc) / b) ** 2;
    if (t <= 0) return;
    const half = a * sqrt(t);
    const [i0, i1] = iRange(xc - half, xc + half);
    if (i1 < i0) return;
    buf.fill(value, row + i0, row + i1 + 1);
    if (lrow >= 0) label.fill(0, lrow + i0, lrow + i1 + 1);
  };

  const fatWaves = randomWaves(geo, 3, 1, [50, 110]);
  const fatSx = fatWaves.freq.map((f) => xs.map((x) => sin(f[0] * x)));
  const fatCx = fatWaves.freq.map((f) => xs.map((x) => cos(f[0] * x)));

  const paintBodySlice = (k: number, z: number, buf: Float32Array): void => {
    buf.fill(hu.air);
    const s = bodyScale(z);
    const Wb = W * s, Db = D * s;
    const Wm = (W - tf) * s, Dm = (D - tf) * s;
    const Wi = Wc * s, Di = Dc * s;
    const inRibs = z > ribBottom;
    for (let j = 0; j < nj; j++) {
      const y = y0 - spacing[1] * j;
      if (abs(y) >= Db) continue;
      const row = j * ni;
      fillEllipseRow(buf, row, y, 0, 0, Wb, Db, hu.fat);
      fillEllipseRow(buf, row, y, 0, 0, Wm, Dm, hu.muscle);
      fillEllipseRow(buf, row, y, 0, 0, Wi, Di, inner);
      // Intra-abdominal fat: where a smooth random field is high, so organs border fat in places
      // and soft tissue in others, as in real scans.
      const tc = 1 - (y / Di) ** 2;
      if (tc > 0) {
        const half = Wi * sqrt(tc);
        const [i0, i1] = iRange(-half, half);
        const c: number[] = [0, 0, 0];
        const sn: number[] = [0, 0, 0];
        for (let m = 0; m < 3; m++) {
          const ph = fatWaves.freq[m][1] * y + fatWaves.freq[m][2] * z + fatWaves.phase[m];
          sn[m] = sin(ph);
          c[m] = cos(ph);
        }
        const [a0, a1, a2] = fatSx;
        const [b0, b1, b2] = fatCx;
        const [c0, c1, c2] = c;
        const [s0, s1, s2] = sn;
        const fatHU = hu.fat + 10;
        for (let i = i0; i <= i1; i++) {
          const f = a0[i] * c0 + b0[i] * s0 + a1[i] * c1 + b1[i] * s1 + a2[i] * c2 + b2[i] * s2;
          if (f > 0.9) buf[row + i] = fatHU;
        }
      }
      // Paraspinal muscles, either side of the spinous processes.
      fillEllipseRow(buf, row, y, 32, -D + 42, 26, 20, hu.muscle);
      fillEllipseRow(buf, row, y, -32, -D + 42, 26, 20, hu.muscle);
      if (inRibs) {
        // Ribs: bands in the muscle wall that run down from the spine towards the front.
        const tm2 = 1 - (y / Dm) ** 2;
        if (tm2 > 0) {
          const half = Wm * sqrt(tm2);
          const [i0, i1] = iRange(-half, half);
          for (let i = i0; i <= i1; i++) {
            const x = xs[i];
            const rc = (x / Wi) ** 2 + (y / Di) ** 2;
            if (rc < 1) continue;
            const theta = atan2(y / Dm, x / Wm); // -pi/2 at the back, +pi/2 at the front
            const fromBack = abs(theta + Math.PI / 2) > Math.PI ? TAU - abs(theta + Math.PI / 2) : abs(theta + Math.PI / 2);
            if (fromBack > Math.PI - 0.45) continue; // costal cartilage gap at the front midline
            const h = z + ribSlope * (fromBack / Math.PI) + ribPhase;
            const ph = h - floor(h / ribPeriod) * ribPeriod;
            if (ph < 9) buf[row + i] = ph < 1.5 || ph > 7.5 ? hu.bone : cancellous;
          }
        }
      }
    }
    for (const l of pLungs) paint(l, k, z, buf, hu.lung, -1, -1);
    for (const g of pGas) paint(g.p, k, z, buf, g.hu, -1, -1);
    paint(pLiver, k, z, buf, hu.liver, 1, -1);
    for (const t of pTumours) paint(t.p, k, z, buf, t.hu, 2, 1);
    // Organs painted after the liver clear its label where they lie (the kidney's impression on the
    // liver, the spine and aorta beside it), so every labelled voxel shows liver or tumour.
    paint(pSpleen, k, z, buf, hu.spleen, 0, -1);
    for (const kd of pKidneys) paint(kd, k, z, buf, kidneyHU, 0, -1);
    const lk = k * plane;
    const dph = z + discPhase - floor((z + discPhase) / discPeriod) * discPeriod;
    const disc = dph < 6;
    for (let j = 0; j < nj; j++) {
      const y = y0 - spacing[1] * j;
      const row = j * ni;
      fillEllipseRow(buf, row, y, aorta.x, aorta.y, aorta.r, aorta.r, aortaHU, lk + row);
      // Spine: vertebral body (cortex and cancellous bone, or an intervertebral disc), canal, spinous process.
      if (disc) fillEllipseRow(buf, row, y, 0, spineY, vb.rx, vb.ry, 80, lk + row);
      else {
        fillEllipseRow(buf, row, y, 0, spineY, vb.rx, vb.ry, hu.bone, lk + row);
        fillEllipseRow(buf, row, y, 0, spineY, vb.rx - 2.5, vb.ry - 2.5, cancellous);
      }
      fillEllipseRow(buf, row, y, 0, spineY - vb.ry - 9, 12, 11, hu.bone, lk + row);
      fillEllipseRow(buf, row, y, 0, spineY - vb.ry - 9, 8, 7.5, 15);
      if (!disc) fillEllipseRow(buf, row, y, 0, spineY - vb.ry - 30, 4, 12, hu.bone, lk + row);
    }
  };

  // Image formation: blur (in-plane per slice, through-plane over a ring of slices), noise, int16.
  const wx = blurWeight(blurSigmaMm / spacing[0]);
  const wy = blurWeight(blurSigmaMm / spacing[1]);
  const wz = blurWeight(blurSigmaMm / spacing[2]);
  const rz = wz > 0 ? 1 : 0;
  const ring = Array.from({ length: 2 * rz + 1 }, () => new Float32Array(plane));
  const tmp = new Float32Array(plane);
  const noiseTable = new Float32Array(65536);
  for (let t = 0; t < noiseTable.length; t++) noiseTable[t] = noiseRng.normal() * noiseSigma;
  let ns = noiseRng.nextU32() | 1;
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
    const z = z0 + spacing[2] * k;
    const buf = ring[k % ring.length];
    paintBodySlice(k, z, buf);
    blurPlane(buf, tmp, ni, nj, wx, wy);
    if (k - rz >= 0) finish(k - rz);
  }
  for (let q = max(0, nk - rz); q < nk; q++) finish(q);

  const header = geometryFromAffine(affine, spacing, shape);
  const imageVol: Volume<Int16Array> = { data: image, shape: [...shape] as Vec3, spacing: [...spacing] as Vec3, affine, header: { ...header, datatype: 4, description: `liverseg phantom seed ${seed}` } };
  const labelVol: Volume<Uint8Array> = {
    data: label,
    shape: [...shape] as Vec3,
    spacing: [...spacing] as Vec3,
    affine: affine.map((r) => [...r]),
    header: { ...header, datatype: 2, description: `liverseg phantom seed ${seed} labels` },
  };
  return {
    image: imageVol,
    label: labelVol,
    info: {
      seed,
      spacing: [...spacing] as Vec3,
      contrast,
      noiseSigma,
      blurSigmaMm,
      hu,
      liverCentre: toWorld(liver.parts[0].c),
      spleenCentre: toWorld(spleen.parts[0].c),
      tumours: tumours.map((t) => ({ centre: toWorld(t.centre), radius: t.radius, hu: t.hu })),
    },
  };
}
