/**
 * Phantom stage 2: the anatomy, as a plain value (numbers and arrays only, JSON-serialisable).
 * Everything is in millimetres in the body frame, RAS (x to the patient's right, y to the front, z
 * up), centred on the body's axis with z = 0 at the level of the liver's right lobe. No voxel work
 * happens here; {@link sliceRasterizer} in raster.ts draws this onto a grid.
 *
 * {@link makeAnatomy} draws from the geometry stream in a fixed order (tissue values, body, liver,
 * spleen, kidneys, lungs, gas, spine, aorta, ribs, tumours, then where the body lies in the scanner,
 * then the intra-abdominal fat field). That order is part of every phantom's identity.
 */
import type { Vec3 } from '../../volume';
import type { Rng } from '../../util/rng';
import type { ResolvedPhantomOptions } from './options';

const { abs, cos, hypot, max, min, sin } = Math;

export const TAU = 2 * Math.PI;

export interface Ellipsoid {
  c: Vec3;
  /** Semi-axes in mm (before rotation about z). */
  a: Vec3;
  /** Rotation about z, radians. */
  rot: number;
}

/** Low-frequency plane waves: sum over m of amp[m] sin(freq[m] . p + phase[m]). */
export interface Waves {
  amp: number[];
  /** Wave vectors, radians per mm. */
  freq: Vec3[];
  phase: number[];
}

/** A smooth organ: union of ellipsoids, radially deformed by a few low-frequency waves. */
export interface Blob extends Waves {
  parts: Ellipsoid[];
  /** Keep inside the abdominal cavity (organs lie against the wall, never through it). */
  clip: boolean;
}

/** Mean tissue values (before noise and blur), HU; reported in PhantomInfo. */
export interface TissueHU {
  air: number;
  fat: number;
  muscle: number;
  liver: number;
  spleen: number;
  bone: number;
  lung: number;
}

/** The body: an elliptic cylinder whose size drifts slowly along z. */
export interface Body {
  /** Semi-axes of the body's cross-section at z = 0, mm (x: side to side, y: front to back). */
  halfWidth: number;
  halfDepth: number;
  /** Thickness of the subcutaneous fat and of the muscle wall, mm. */
  fatThickness: number;
  muscleThickness: number;
  /** Semi-axes of the abdominal cavity at z = 0 (the body less fat and muscle). */
  cavityHalfWidth: number;
  cavityHalfDepth: number;
  /** Cross-section scale along z: 1 + amp sin(k z + phase). */
  wave: { amp: number; k: number; phase: number };
}

/** An ellipse in the axial plane, constant along z. */
export interface Ellipse {
  x: number;
  y: number;
  rx: number;
  ry: number;
}

export interface Spine {
  /** Vertebral bodies (cortex `cortex` mm thick over cancellous bone), interrupted by discs. */
  body: Ellipse;
  cortex: number;
  /** Discs: where (z + discPhase) mod discPeriod < discThickness. */
  discPeriod: number;
  discPhase: number;
  discThickness: number;
  /** The posterior arch (bone) around the spinal canal. */
  arch: Ellipse;
  canal: Ellipse;
  /** The spinous process, behind the arch (absent at disc levels). */
  process: Ellipse;
  /** Paraspinal muscles, at +-x of this one. */
  paraspinal: Ellipse;
}

/** Ribs: bands in the muscle wall above `bottom` running down from the spine towards the front. */
export interface Ribs {
  bottom: number;
  period: number;
  phase: number;
  slope: number;
}

export interface Tumour {
  blob: Blob;
  hu: number;
  centre: Vec3;
  radius: number;
}

/** Where the body lies in the scanner. */
export interface Placement {
  /** Field-of-view centre in the body frame. */
  fovCentre: Vec3;
  /** Body-frame origin in scanner (world) coordinates: a table position, as real headers have. */
  table: Vec3;
}

/** Everything a phantom shows, before the voxel grid and the scanner. A plain value. */
export interface Anatomy {
  hu: TissueHU;
  /** Other tissue values, HU. `abdominalFat`: fat between the organs; `canal`: the spinal canal. */
  otherHU: { cancellous: number; inner: number; kidney: number; aorta: number; disc: number; canal: number; abdominalFat: number };
  body: Body;
  liver: Blob;
  spleen: Blob;
  kidneys: Blob[];
  lungs: Blob[];
  gas: { blob: Blob; hu: number }[];
  spine: Spine;
  /** The aorta: a circle (rx = ry) in front of the spine. */
  aorta: Ellipse;
  ribs: Ribs;
  tumours: Tumour[];
  placement: Placement;
  /** Intra-abdominal fat lies where these waves (amplitude 1 each) sum above `fatThreshold`. */
  fatWaves: Waves;
  fatThreshold: number;
}

/** The body's cross-section scale at height z. */
export function bodyScale(body: Body, z: number): number {
  return 1 + body.wave.amp * sin(body.wave.k * z + body.wave.phase);
}

export function ellipsoidR2(e: Ellipsoid, x: number, y: number, z: number): number {
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

export function ampSum(b: Waves): number {
  return b.amp.reduce((s, a) => s + abs(a), 0);
}

/** Axis-aligned bounds of a blob in mm: [min, max] per axis. */
export function blobBounds(b: Blob): [Vec3, Vec3] {
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

/** Whether body-frame point (x, y, z) lies in `b` (and, for a clipped blob, in the cavity). */
export function blobContains(body: Body, b: Blob, x: number, y: number, z: number): boolean {
  const s = bodyScale(body, z);
  if (b.clip && (x / (body.cavityHalfWidth * s)) ** 2 + (y / (body.cavityHalfDepth * s)) ** 2 >= 1) return false;
  let r2 = Infinity;
  for (const e of b.parts) r2 = min(r2, ellipsoidR2(e, x, y, z));
  const d = 1 + deformation(b, x, y, z);
  return r2 * d * d < 1;
}

/**
 * Whether (x, y, z) is liver (or tumour) in the rasterised phantom: in the liver blob and in none of
 * the structures painted after it (spleen, kidneys, aorta, spinal arch, vertebral body). The raster
 * evaluates the same shapes with differently ordered arithmetic, so voxels on a boundary may differ.
 */
export function liverContains(a: Pick<Anatomy, 'body' | 'liver' | 'spleen' | 'kidneys' | 'aorta' | 'spine'>, x: number, y: number, z: number): boolean {
  const { aorta, spine } = a;
  return (
    blobContains(a.body, a.liver, x, y, z) &&
    !blobContains(a.body, a.spleen, x, y, z) &&
    !a.kidneys.some((kd) => blobContains(a.body, kd, x, y, z)) &&
    (x - aorta.x) ** 2 + (y - aorta.y) ** 2 >= aorta.rx ** 2 &&
    ((x - spine.arch.x) / spine.arch.rx) ** 2 + ((y - spine.arch.y) / spine.arch.ry) ** 2 >= 1 &&
    ((x - spine.body.x) / spine.body.rx) ** 2 + ((y - spine.body.y) / spine.body.ry) ** 2 >= 1
  );
}

export function randomWaves(rng: Rng, n: number, amp: number, wavelength: [number, number]): Waves {
  const out: Waves = { amp: [], freq: [], phase: [] };
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

/**
 * Lays out the anatomy for `options` from `geo`, the geometry stream as {@link resolveOptions} left
 * it. Deterministic: the same options and stream state give the same value.
 */
export function makeAnatomy(options: ResolvedPhantomOptions, geo: Rng): Anatomy {
  const { contrast } = options;
  // Tissue values.
  const hu: TissueHU = {
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
  const wave = { amp: geo.uniform(0.02, 0.05), k: TAU / geo.uniform(300, 600), phase: geo.uniform(0, TAU) };
  const Wc = W - tf - tm; // abdominal cavity at z = 0 (scaled like the body elsewhere)
  const Dc = D - tf - tm;
  const body: Body = { halfWidth: W, halfDepth: D, fatThickness: tf, muscleThickness: tm, cavityHalfWidth: Wc, cavityHalfDepth: Dc, wave };

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
    parts: [
      { c: [-Wc * 0.62, -Dc * 0.38, geo.uniform(0, 25)], a: [geo.uniform(18, 26), geo.uniform(40, 55), geo.uniform(45, 60)], rot: geo.uniform(0.4, 0.8) },
    ],
    ...randomWaves(geo, 2, 0.06, [60, 150]),
    clip: true,
  };
  const kidneys: Blob[] = [1, -1].map((side) => ({
    parts: [
      {
        c: [side * geo.uniform(45, 58), -Dc * 0.5, side > 0 ? geo.uniform(-95, -70) : geo.uniform(-80, -55)],
        a: [geo.uniform(24, 30), geo.uniform(20, 26), geo.uniform(48, 60)],
        rot: side * geo.uniform(0.3, 0.6),
      },
    ],
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
      blob: {
        parts: [{ c, a: [r * geo.uniform(0.8, 1.3), r * geo.uniform(0.6, 1), r * geo.uniform(0.8, 1.5)], rot: geo.uniform(0, Math.PI) }],
        ...randomWaves(geo, 2, 0.1, [20, 60]),
        clip: true,
      },
      hu: geo.uniform(-1000, -500),
    });
  }
  const spineY = -D + geo.uniform(70, 80);
  const vb = { rx: geo.uniform(18, 22), ry: geo.uniform(14, 17) };
  const discPeriod = geo.uniform(28, 34);
  const discPhase = geo.uniform(0, discPeriod);
  const aortaR = { x: -geo.uniform(8, 16), y: spineY + vb.ry + geo.uniform(10, 14), r: geo.uniform(10, 13) };
  const aorta: Ellipse = { x: aortaR.x, y: aortaR.y, rx: aortaR.r, ry: aortaR.r };
  const ribBottom = geo.uniform(-70, -40);
  const ribPeriod = geo.uniform(28, 34);
  const ribPhase = geo.uniform(0, ribPeriod);
  const ribSlope = geo.uniform(50, 80);
  const archY = spineY - vb.ry - 9;
  const spine: Spine = {
    body: { x: 0, y: spineY, rx: vb.rx, ry: vb.ry },
    cortex: 2.5,
    discPeriod,
    discPhase,
    discThickness: 6,
    arch: { x: 0, y: archY, rx: 12, ry: 11 },
    canal: { x: 0, y: archY, rx: 8, ry: 7.5 },
    process: { x: 0, y: spineY - vb.ry - 30, rx: 4, ry: 12 },
    paraspinal: { x: 32, y: -D + 42, rx: 26, ry: 20 },
  };

  const tumours: Tumour[] = [];
  const [llo, lhi] = blobBounds(liver);
  const organs = { body, liver, spleen, kidneys, aorta, spine };
  for (let t = 0; t < options.tumours; t++) {
    const radius = geo.uniform(5, 25);
    for (let attempt = 0; attempt < 200; attempt++) {
      const c: Vec3 = [geo.uniform(llo[0], lhi[0]), geo.uniform(llo[1], lhi[1]), geo.uniform(llo[2], lhi[2])];
      // Mostly intrahepatic: the centre and six points half a radius away lie in the liver.
      const h = radius / 2;
      const probes: Vec3[] = [
        c,
        [c[0] + h, c[1], c[2]],
        [c[0] - h, c[1], c[2]],
        [c[0], c[1] + h, c[2]],
        [c[0], c[1] - h, c[2]],
        [c[0], c[1], c[2] + h],
        [c[0], c[1], c[2] - h],
      ];
      if (!probes.every((q) => liverContains(organs, q[0], q[1], q[2]))) continue;
      tumours.push({
        blob: {
          parts: [{ c, a: [radius * geo.uniform(0.8, 1.2), radius * geo.uniform(0.8, 1.2), radius * geo.uniform(0.8, 1.2)], rot: geo.uniform(0, Math.PI) }],
          ...randomWaves(geo, 2, 0.08, [15, 50]),
          clip: true,
        },
        hu: geo.uniform(20, 40),
        centre: [c[0], c[1], c[2]],
        radius,
      });
      break;
    }
  }

  // Field of view: by default centred a little right of and above the liver's centre, then shifted.
  const { shape, spacing } = options;
  const fovZ = shape[2] * spacing[2];
  const shift: Vec3 = options.fovShift
    ? [options.fovShift[0], options.fovShift[1], options.fovShift[2]]
    : [geo.uniform(-25, 25), geo.uniform(-20, 20), geo.uniform(-0.3, 0.3) * fovZ];
  const fovCentre: Vec3 = [Wc * 0.1 + shift[0], shift[1], 10 + shift[2]];
  const table: Vec3 = [geo.uniform(-15, 15), geo.uniform(-40, 40), geo.uniform(-600, -150)];

  const fatWaves = randomWaves(geo, 3, 1, [50, 110]);

  return {
    hu,
    otherHU: { cancellous, inner, kidney: kidneyHU, aorta: aortaHU, disc: 80, canal: 15, abdominalFat: hu.fat + 10 },
    body,
    liver,
    spleen,
    kidneys,
    lungs,
    gas,
    spine,
    aorta,
    ribs: { bottom: ribBottom, period: ribPeriod, phase: ribPhase, slope: ribSlope },
    tumours,
    placement: { fovCentre, table },
    fatWaves,
    fatThreshold: 0.9,
  };
}
