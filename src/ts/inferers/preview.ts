/**
 * A preview picture of a segmentation, to check a result at a glance: axial, coronal and sagittal
 * slices through the liver's centroid in the top row, an axial montage across the liver below,
 * the CT windowed for the abdomen (-160 to 240 HU) and the liver overlaid in colour.
 *
 * Radiological convention: the patient's right is on the image's left (axial and coronal),
 * anterior is up in axial views and on the left in the sagittal view, superior is up in coronal
 * and sagittal views; each view carries its orientation letters. Everything is drawn from the
 * volume reoriented to RAS, so a CT stored flipped or permuted gives the same picture. Pixels are
 * square in millimetres (anisotropic voxels are stretched, nearest neighbour). Encoded with pngjs.
 */
import { PNG } from 'pngjs';
import { describeValue, invalidArg } from '../errors';
import { affinesClose } from '../geometry/affine';
import { toCanonicalAsync } from '../geometry/orientation';
import { assertVolume, Vec3, Volume, withData } from '../volume';

export interface PreviewOptions {
  /** HU shown black and white. Default [-160, 240] (abdomen: level 40, width 400). */
  window?: [number, number];
  /** Pixels for the largest physical extent among the three top views. Default 320. */
  size?: number;
  /** Axial slices in the montage (0 for none). Default 8. */
  montage?: number;
  /** Overlay colour. Default [255, 60, 40]. */
  color?: [number, number, number];
  /** Overlay opacity in [0, 1]. Default 0.45. */
  opacity?: number;
}

export type PreviewView = 'axial' | 'coronal' | 'sagittal';

/** Where one view sits in the picture and which canonical (RAS-ordered) slice it shows. */
export interface PreviewPanel {
  view: PreviewView;
  montage: boolean;
  x: number;
  y: number;
  width: number;
  height: number;
  /** The slice index along the view's normal axis in the RAS-reoriented volume. */
  slice: number;
}

export interface PreviewImage {
  png: Buffer;
  width: number;
  height: number;
  panels: PreviewPanel[];
  /**
   * The pixel (x, y) where a world point (RAS mm) appears in each panel whose slice holds it
   * (within half a voxel), for checking the picture against the volume.
   */
  locate(ras: Vec3): Array<{ panel: PreviewPanel; x: number; y: number }>;
}

export const PREVIEW_DEFAULTS = {
  window: [-160, 240] as [number, number],
  size: 320,
  montage: 8,
  color: [255, 60, 40] as [number, number, number],
  opacity: 0.45,
};

const GAP = 4;
const MONTAGE_COLUMNS = 4;

// 5x7 glyphs for the orientation letters, one string of 0/1 per row.
const GLYPHS: Record<string, string[]> = {
  R: ['11110', '10001', '10001', '11110', '10100', '10010', '10001'],
  L: ['10000', '10000', '10000', '10000', '10000', '10000', '11111'],
  A: ['01110', '10001', '10001', '11111', '10001', '10001', '10001'],
  P: ['11110', '10001', '10001', '11110', '10000', '10000', '10000'],
  S: ['01111', '10000', '10000', '01110', '00001', '00001', '11110'],
  I: ['11111', '00100', '00100', '00100', '00100', '00100', '11111'],
};

/** The letters at the left, right, top and bottom edges of each view. */
const LETTERS: Record<PreviewView, [string, string, string, string]> = {
  axial: ['R', 'L', 'A', 'P'],
  coronal: ['R', 'L', 'S', 'I'],
  sagittal: ['A', 'P', 'S', 'I'],
};

function checkOptions(o: PreviewOptions): Required<PreviewOptions> {
  if (o === null || typeof o !== 'object') throw invalidArg('options', `expected an object, got ${describeValue(o)}`);
  const r = { ...PREVIEW_DEFAULTS, ...o };
  if (!Array.isArray(r.window) || r.window.length !== 2 || !(r.window[1] > r.window[0]))
    throw invalidArg('options.window', `expected [low, high] with low < high, got ${describeValue(r.window)}`);
  if (!(Number.isInteger(r.size) && r.size >= 32 && r.size <= 4096))
    throw invalidArg('options.size', `expected an integer in [32, 4096], got ${describeValue(r.size)}`);
  if (!(Number.isInteger(r.montage) && r.montage >= 0 && r.montage <= 64))
    throw invalidArg('options.montage', `expected an integer in [0, 64], got ${describeValue(r.montage)}`);
  if (!(Array.isArray(r.color) && r.color.length === 3 && r.color.every((c) => Number.isInteger(c) && c >= 0 && c <= 255)))
    throw invalidArg('options.color', `expected [r, g, b] in 0..255`);
  if (!(r.opacity >= 0 && r.opacity <= 1)) throw invalidArg('options.opacity', `expected a number in [0, 1], got ${describeValue(r.opacity)}`);
  return r;
}

interface View {
  view: PreviewView;
  /** Voxel axes shown along the picture's x and y, and the slice axis. */
  ax: number;
  ay: number;
  az: number;
}

const VIEWS: Record<PreviewView, View> = {
  // In RAS order, index increases towards R, A, S: every displayed axis runs backwards (R, A, S at the left or top).
  axial: { view: 'axial', ax: 0, ay: 1, az: 2 },
  coronal: { view: 'coronal', ax: 0, ay: 2, az: 1 },
  sagittal: { view: 'sagittal', ax: 1, ay: 2, az: 0 },
};

/**
 * Renders the preview and says where everything is. See {@link renderPreview} for the picture.
 */
export async function renderPreviewImage(ct: Volume, mask: Volume, options: PreviewOptions = {}): Promise<PreviewImage> {
  assertVolume(ct, 'ct');
  assertVolume(mask, 'mask');
  const o = checkOptions(options);
  if (!mask.shape.every((s, a) => s === ct.shape[a]))
    throw invalidArg('mask', `is ${mask.shape.join('x')} but the CT is ${ct.shape.join('x')}`, 'ERR_SHAPE_MISMATCH');
  if (!affinesClose(mask.affine, ct.affine, 1e-6, 1e-4))
    throw invalidArg('mask', 'has another affine than the CT: they must share one grid', 'ERR_GEOMETRY_MISMATCH');
  const c = await toCanonicalAsync(ct);
  const m = await toCanonicalAsync(withData(ct, mask.data));
  const vol = c.volume;
  const lab = m.volume.data;
  const shape = vol.shape;
  const spacing = vol.spacing;
  const [ni, nj] = shape;
  const at = (i: number, j: number, k: number): number => i + ni * (j + nj * k);

  // Centroid and slice range of the liver (the middle of the volume when there is none).
  let n = 0;
  const sum = [0, 0, 0];
  let kLo = shape[2];
  let kHi = -1;
  for (let k = 0, idx = 0; k < shape[2]; k++) {
    // A large volume's scan serves the event loop every few slices.
    if (k > 0 && k % 16 === 0) await new Promise((r) => setImmediate(r));
    for (let j = 0; j < nj; j++) {
      for (let i = 0; i < ni; i++, idx++) {
        if (lab[idx] === 0) continue;
        n++;
        sum[0] += i;
        sum[1] += j;
        sum[2] += k;
        if (k < kLo) kLo = k;
        if (k > kHi) kHi = k;
      }
    }
  }
  const centre = n > 0 ? sum.map((s) => Math.round(s / n)) : shape.map((s) => Math.floor(s / 2));
  if (n === 0) {
    kLo = 0;
    kHi = shape[2] - 1;
  }

  const extentMm = shape.map((s, a) => s * spacing[a]);
  const scale = o.size / Math.max(...extentMm);
  const panels: PreviewPanel[] = [];
  const top: Array<{ panel: PreviewPanel; v: View; s: number }> = [];
  let x = GAP;
  for (const name of ['axial', 'coronal', 'sagittal'] as PreviewView[]) {
    const v = VIEWS[name];
    const width = Math.max(1, Math.round(extentMm[v.ax] * scale));
    const height = Math.max(1, Math.round(extentMm[v.ay] * scale));
    const panel: PreviewPanel = { view: name, montage: false, x, y: GAP, width, height, slice: centre[v.az] };
    panels.push(panel);
    top.push({ panel, v, s: scale });
    x += width + GAP;
  }
  const topHeight = Math.max(...top.map((t) => t.panel.height));
  let canvasW = x;
  let canvasH = GAP + topHeight + GAP;
  const montage: Array<{ panel: PreviewPanel; v: View; s: number }> = [];
  if (o.montage > 0) {
    const count = Math.min(o.montage, kHi - kLo + 1);
    const mScale = scale / 2;
    const w = Math.max(1, Math.round(extentMm[0] * mScale));
    const h = Math.max(1, Math.round(extentMm[1] * mScale));
    for (let t = 0; t < count; t++) {
      const k = count === 1 ? Math.round((kLo + kHi) / 2) : Math.round(kLo + ((kHi - kLo) * t) / (count - 1));
      const col = t % MONTAGE_COLUMNS;
      const row = Math.floor(t / MONTAGE_COLUMNS);
      const panel: PreviewPanel = { view: 'axial', montage: true, x: GAP + col * (w + GAP), y: canvasH + row * (h + GAP), width: w, height: h, slice: k };
      panels.push(panel);
      montage.push({ panel, v: VIEWS.axial, s: mScale });
    }
    const rows = Math.ceil(count / MONTAGE_COLUMNS);
    canvasW = Math.max(canvasW, GAP + Math.min(count, MONTAGE_COLUMNS) * (w + GAP));
    canvasH += rows * (h + GAP);
  }

  // RGB, 3 bytes a pixel, black background.
  const px = Buffer.alloc(canvasW * canvasH * 3);
  const [lo, hi] = o.window;
  const alpha = o.opacity;
  const [cr, cg, cb] = o.color;
  const voxelOf = (t: { panel: PreviewPanel; v: View; s: number }, u: number, w: number): [number, number] => {
    // Picture column u, row w -> voxel indices along ax and ay (both run backwards, see VIEWS).
    const a = shape[t.v.ax] - 1 - Math.min(shape[t.v.ax] - 1, Math.floor((u + 0.5) / (spacing[t.v.ax] * t.s)));
    const b = shape[t.v.ay] - 1 - Math.min(shape[t.v.ay] - 1, Math.floor((w + 0.5) / (spacing[t.v.ay] * t.s)));
    return [a, b];
  };
  for (const t of [...top, ...montage]) {
    const { panel, v } = t;
    for (let w = 0; w < panel.height; w++) {
      for (let u = 0; u < panel.width; u++) {
        const [a, b] = voxelOf(t, u, w);
        const ijk = [0, 0, 0];
        ijk[v.ax] = a;
        ijk[v.ay] = b;
        ijk[v.az] = panel.slice;
        const idx = at(ijk[0], ijk[1], ijk[2]);
        const hu = vol.data[idx];
        const g = Math.round(Math.min(1, Math.max(0, (hu - lo) / (hi - lo))) * 255);
        const p = ((panel.y + w) * canvasW + panel.x + u) * 3;
        if (lab[idx] !== 0) {
          px[p] = Math.round((1 - alpha) * g + alpha * cr);
          px[p + 1] = Math.round((1 - alpha) * g + alpha * cg);
          px[p + 2] = Math.round((1 - alpha) * g + alpha * cb);
        } else {
          px[p] = px[p + 1] = px[p + 2] = g;
        }
      }
    }
  }
  // Orientation letters on the three top views: 2x scaled glyphs, yellow, inset from each edge.
  const glyph = (ch: string, gx: number, gy: number, dot: number): void => {
    GLYPHS[ch].forEach((row, r) => {
      for (let q = 0; q < 5; q++) {
        if (row[q] !== '1') continue;
        for (let dy = 0; dy < dot; dy++) {
          for (let dx = 0; dx < dot; dx++) {
            const X = gx + q * dot + dx;
            const Y = gy + r * dot + dy;
            if (X < 0 || Y < 0 || X >= canvasW || Y >= canvasH) continue;
            const p = (Y * canvasW + X) * 3;
            px[p] = 255;
            px[p + 1] = 220;
            px[p + 2] = 0;
          }
        }
      }
    });
  };
  for (const { panel } of top) {
    const dot = panel.width >= 120 && panel.height >= 60 ? 2 : 1;
    const gw = 5 * dot;
    const gh = 7 * dot;
    if (panel.width < 3 * gw || panel.height < 2 * gh) continue;
    const [left, right, upper, lower] = LETTERS[panel.view];
    const midY = panel.y + Math.floor((panel.height - gh) / 2);
    const midX = panel.x + Math.floor((panel.width - gw) / 2);
    glyph(left, panel.x + 2, midY, dot);
    glyph(right, panel.x + panel.width - gw - 2, midY, dot);
    glyph(upper, midX, panel.y + 2, dot);
    glyph(lower, midX, panel.y + panel.height - gh - 2, dot);
  }
  // One filter (Sub) for every row rather than pngjs's try-all-five heuristic: several times faster, little larger.
  const opts = { width: canvasW, height: canvasH, colorType: 2, inputColorType: 2, inputHasAlpha: false, filterType: 1, deflateLevel: 6 } as const;
  const png = new PNG(opts);
  png.data = px;
  const buffer = PNG.sync.write(png, { ...opts });

  // World (RAS) -> canonical voxel, for locate().
  const aff = vol.affine;
  const inv = (ras: Vec3): Vec3 => {
    // The canonical affine is diagonal-dominant but may be oblique: solve the 3x3 system.
    const mtx = [0, 1, 2].map((r) => [aff[r][0], aff[r][1], aff[r][2]]);
    const rhs = [ras[0] - aff[0][3], ras[1] - aff[1][3], ras[2] - aff[2][3]];
    const det = (q: number[][]): number =>
      q[0][0] * (q[1][1] * q[2][2] - q[1][2] * q[2][1]) - q[0][1] * (q[1][0] * q[2][2] - q[1][2] * q[2][0]) + q[0][2] * (q[1][0] * q[2][1] - q[1][1] * q[2][0]);
    const d = det(mtx);
    return [0, 1, 2].map((col) => det(mtx.map((row, r) => row.map((val, cc) => (cc === col ? rhs[r] : val)))) / d) as Vec3;
  };
  const locate = (ras: Vec3): Array<{ panel: PreviewPanel; x: number; y: number }> => {
    const vox = inv(ras);
    const out: Array<{ panel: PreviewPanel; x: number; y: number }> = [];
    for (const t of [...top, ...montage]) {
      const { panel, v, s } = t;
      if (Math.abs(vox[v.az] - panel.slice) > 0.5) continue;
      const u = Math.floor((shape[v.ax] - 1 - Math.round(vox[v.ax]) + 0.5) * spacing[v.ax] * s);
      const w = Math.floor((shape[v.ay] - 1 - Math.round(vox[v.ay]) + 0.5) * spacing[v.ay] * s);
      if (u < 0 || w < 0 || u >= panel.width || w >= panel.height) continue;
      out.push({ panel, x: panel.x + u, y: panel.y + w });
    }
    return out;
  };
  return { png: buffer, width: canvasW, height: canvasH, panels, locate };
}

/**
 * A PNG preview of a liver mask on its CT: axial, coronal and sagittal slices through the liver's
 * centroid, and an axial montage across the liver (see the module comment for the conventions).
 * @example
 * await fsp.writeFile('preview.png', await renderPreview(ct, mask));
 */
export async function renderPreview(ct: Volume, mask: Volume, options: PreviewOptions = {}): Promise<Buffer> {
  return (await renderPreviewImage(ct, mask, options)).png;
}
