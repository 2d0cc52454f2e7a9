/**
 * Phantom stage 3: drawing an {@link Anatomy} onto a voxel grid, slice by slice: tissue values (HU,
 * float32, before the scanner's blur and noise) into a slice buffer, labels (0 background, 1 liver,
 * 2 tumour) into a whole label volume. Nothing random happens here.
 */
import type { Vec3 } from '../../volume';
import type { Anatomy, Blob, Ellipse } from './anatomy';
import { TAU, ampSum, blobBounds, bodyScale } from './anatomy';

const { abs, atan2, ceil, cos, floor, max, min, sin, sqrt } = Math;

/** A voxel grid in the body frame. */
export interface Grid {
  shape: Vec3;
  spacing: Vec3;
  /** Body-frame position (mm) of voxel (0, 0, 0); i runs to -x (left), j to -y (back), k to +z. */
  origin: Vec3;
}

/** Writes slice k's tissue values into `buf` (ni * nj values, i fastest). */
export type SliceSource = (k: number, buf: Float32Array) => void;

export interface SliceRasterizer {
  /** The label volume, filled slice by slice as {@link paintSlice} is called. */
  readonly label: Uint8Array;
  /** Paints slice k: HU into `buf` (every value overwritten), labels into `label`'s slice k. */
  readonly paintSlice: SliceSource;
}

/** Per-blob lookups: voxel ranges, and the x-dependent halves of sin(a + b) so the deformation costs multiplications, not sines, per voxel. */
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

/**
 * A rasteriser of `anatomy` on `grid`. Slices may be painted in any order; each call writes only
 * its own slice of the label volume. Memory: the label volume and a few row tables.
 */
export function sliceRasterizer(anatomy: Anatomy, grid: Grid): SliceRasterizer {
  const [ni, nj, nk] = grid.shape;
  const { spacing } = grid;
  const [x0, y0, z0] = grid.origin;
  const { hu, otherHU, body, spine, aorta, ribs } = anatomy;
  const W = body.halfWidth;
  const D = body.halfDepth;
  const tf = body.fatThickness;
  const Wc = body.cavityHalfWidth;
  const Dc = body.cavityHalfDepth;
  const plane = ni * nj;
  const label = new Uint8Array(ni * nj * nk);

  const xs = new Float64Array(ni);
  for (let i = 0; i < ni; i++) xs[i] = x0 - spacing[0] * i;
  const x2 = xs.map((x) => x * x);

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

  const maxParts = max(
    1,
    ...[anatomy.liver, anatomy.spleen, ...anatomy.kidneys, ...anatomy.lungs, ...anatomy.gas.map((g) => g.blob), ...anatomy.tumours.map((t) => t.blob)].map(
      (b) => b.parts.length,
    ),
  );
  const maxWaves = max(
    1,
    ...[anatomy.liver, anatomy.spleen, ...anatomy.kidneys, ...anatomy.lungs, ...anatomy.gas.map((g) => g.blob), ...anatomy.tumours.map((t) => t.blob)].map(
      (b) => b.amp.length,
    ),
  );
  const U0 = new Float64Array(maxParts);
  const V0 = new Float64Array(maxParts);
  const W2 = new Float64Array(maxParts);
  const IA = new Float64Array(maxParts);
  const IB = new Float64Array(maxParts);
  const SB = new Float64Array(maxWaves);
  const CB = new Float64Array(maxWaves);

  /**
   * Paints `p` into slice `k`: plane value `value`, and label `labelValue` (when >= 0). With
   * `onlyLabel`, only where the label already equals it (tumours stay inside the liver).
   */
  const paint = (p: Prepared, k: number, z: number, buf: Float32Array, value: number, labelValue: number, onlyLabel: number): void => {
    if (z < p.lo[2] || z > p.hi[2]) return;
    const b = p.blob;
    const s = bodyScale(body, z);
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

  const pLiver = prep(anatomy.liver);
  const pSpleen = prep(anatomy.spleen);
  const pKidneys = anatomy.kidneys.map(prep);
  const pLungs = anatomy.lungs.map(prep);
  const pGas = anatomy.gas.map((g) => ({ p: prep(g.blob), hu: g.hu }));
  const pTumours = anatomy.tumours.map((t) => ({ p: prep(t.blob), hu: t.hu }));

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
  const fillRow = (buf: Float32Array, row: number, y: number, e: Ellipse, value: number, lrow = -1): void =>
    fillEllipseRow(buf, row, y, e.x, e.y, e.rx, e.ry, value, lrow);

  const fatWaves = anatomy.fatWaves;
  const fatSx = fatWaves.freq.map((f) => xs.map((x) => sin(f[0] * x)));
  const fatCx = fatWaves.freq.map((f) => xs.map((x) => cos(f[0] * x)));
  const { body: vb, arch, canal, process, paraspinal } = spine;
  const cortexRx = vb.rx - spine.cortex;
  const cortexRy = vb.ry - spine.cortex;

  const paintSlice = (k: number, buf: Float32Array): void => {
    const z = z0 + spacing[2] * k;
    buf.fill(hu.air);
    const s = bodyScale(body, z);
    const Wb = W * s,
      Db = D * s;
    const Wm = (W - tf) * s,
      Dm = (D - tf) * s;
    const Wi = Wc * s,
      Di = Dc * s;
    const inRibs = z > ribs.bottom;
    for (let j = 0; j < nj; j++) {
      const y = y0 - spacing[1] * j;
      if (abs(y) >= Db) continue;
      const row = j * ni;
      fillEllipseRow(buf, row, y, 0, 0, Wb, Db, hu.fat);
      fillEllipseRow(buf, row, y, 0, 0, Wm, Dm, hu.muscle);
      fillEllipseRow(buf, row, y, 0, 0, Wi, Di, otherHU.inner);
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
        const fatHU = otherHU.abdominalFat;
        const threshold = anatomy.fatThreshold;
        for (let i = i0; i <= i1; i++) {
          const f = a0[i] * c0 + b0[i] * s0 + a1[i] * c1 + b1[i] * s1 + a2[i] * c2 + b2[i] * s2;
          if (f > threshold) buf[row + i] = fatHU;
        }
      }
      // Paraspinal muscles, either side of the spinous processes.
      fillEllipseRow(buf, row, y, paraspinal.x, paraspinal.y, paraspinal.rx, paraspinal.ry, hu.muscle);
      fillEllipseRow(buf, row, y, -paraspinal.x, paraspinal.y, paraspinal.rx, paraspinal.ry, hu.muscle);
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
            const h = z + ribs.slope * (fromBack / Math.PI) + ribs.phase;
            const ph = h - floor(h / ribs.period) * ribs.period;
            if (ph < 9) buf[row + i] = ph < 1.5 || ph > 7.5 ? hu.bone : otherHU.cancellous;
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
    for (const kd of pKidneys) paint(kd, k, z, buf, otherHU.kidney, 0, -1);
    const lk = k * plane;
    const dph = z + spine.discPhase - floor((z + spine.discPhase) / spine.discPeriod) * spine.discPeriod;
    const disc = dph < spine.discThickness;
    for (let j = 0; j < nj; j++) {
      const y = y0 - spacing[1] * j;
      const row = j * ni;
      fillRow(buf, row, y, aorta, otherHU.aorta, lk + row);
      // Spine: vertebral body (cortex and cancellous bone, or an intervertebral disc), canal, spinous process.
      if (disc) fillRow(buf, row, y, vb, otherHU.disc, lk + row);
      else {
        fillRow(buf, row, y, vb, hu.bone, lk + row);
        fillEllipseRow(buf, row, y, vb.x, vb.y, cortexRx, cortexRy, otherHU.cancellous);
      }
      fillRow(buf, row, y, arch, hu.bone, lk + row);
      fillRow(buf, row, y, canal, otherHU.canal);
      if (!disc) fillRow(buf, row, y, process, hu.bone, lk + row);
    }
  };

  return { label, paintSlice };
}

/**
 * The whole phantom before the scanner: tissue values (float32 HU, no blur or noise) and labels.
 * Holds a float32 volume; {@link makePhantom} streams slices instead.
 */
export function rasterize(anatomy: Anatomy, grid: Grid): { hu: Float32Array; label: Uint8Array } {
  const [ni, nj, nk] = grid.shape;
  const plane = ni * nj;
  const hu = new Float32Array(plane * nk);
  const r = sliceRasterizer(anatomy, grid);
  for (let k = 0; k < nk; k++) r.paintSlice(k, hu.subarray(k * plane, (k + 1) * plane));
  return { hu, label: r.label };
}
