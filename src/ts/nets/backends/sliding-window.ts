/**
 * Sliding-window inference in TypeScript, for engines other than LibTorch (whose windows run
 * natively in cpp/core/inferers/sliding_window.cc). Both follow the same rules, so their masks agree:
 *   - the window plan is nets/sliding-window-plan.ts (MONAI's dense_patch_slices), shared;
 *   - a volume smaller than the window is padded with zeros, floor(diff / 2) before (as SpatialPad);
 *   - windows run z-, then y-, then x-major (tensor order), `batchSize` per forward pass;
 *   - outputs are weighted by the importance map and divided by the summed weights, in float32.
 * Arrays here are in tensor order: [D, H, W] = [nk, nj, ni], W (= i) fastest, one input channel.
 */
import { invalidArg, throwIfAborted } from '../../errors';
import type { Vec3 } from '../../volume';
import { checkWindowCount, windowStarts } from '../sliding-window-plan';

/** Runs a batch [n, 1, ...roi] (tensor order) and resolves with its output [n, channels, ...roi]. */
export type BatchPredictor = (batch: Float32Array, n: number, roi: Vec3) => Promise<{ data: Float32Array; channels: number }>;

export interface WindowOptions {
  /** Window size, tensor order [D, H, W]. */
  roi: Vec3;
  overlap: number;
  blend: 'gaussian' | 'constant';
  sigmaScale: number;
  batchSize: number;
  signal?: AbortSignal;
}

/**
 * MONAI 1.4's compute_importance_map, as cpp/core/inferers/sliding_window.cc computes it: per axis
 * g(x) = exp(-x^2 / (2 sigma^2)), x = index - (roi - 1) / 2, sigma = sigmaScale * roi, all in
 * float32; the outer product; values clamped to at least max(min, 1e-3). Like MONAI (and the addon)
 * it is not rescaled to a maximum of 1 first: for an even roi its largest value is a little under 1,
 * which only moves the 1e-3 floor by that factor. 'constant': all ones. Tensor order [D, H, W].
 */
export function importanceMap(roi: Vec3, blend: 'gaussian' | 'constant', sigmaScale: number): Float32Array {
  const n = roi[0] * roi[1] * roi[2];
  if (blend === 'constant') return new Float32Array(n).fill(1);
  const axes = roi.map((r) => {
    const sigma = sigmaScale * r;
    if (!(sigma > 0)) throw invalidArg('sigmaScale', 'must be > 0');
    const half = (r - 1) / 2;
    const div = Math.fround(-2 * sigma * sigma);
    const g = new Float32Array(r);
    for (let t = 0; t < r; t++) {
      const x = Math.fround(-half + t);
      g[t] = Math.exp(Math.fround(Math.fround(x * x) / div));
    }
    return g;
  });
  const w = new Float32Array(n);
  let min = Infinity;
  for (let z = 0, p = 0; z < roi[0]; z++) {
    for (let y = 0; y < roi[1]; y++) {
      const zy = Math.fround(axes[0][z] * axes[1][y]);
      for (let x = 0; x < roi[2]; x++, p++) {
        const v = Math.fround(zy * axes[2][x]);
        w[p] = v;
        if (v < min) min = v;
      }
    }
  }
  const floor = Math.fround(Math.max(min, 1e-3));
  for (let p = 0; p < n; p++) if (w[p] < floor) w[p] = floor;
  return w;
}

/** Zero-pads `data` [D, H, W] to at least `roi` on each axis, floor(diff / 2) before; returns the padding. */
export function padToWindow(data: Float32Array, size: Vec3, roi: Vec3): { data: Float32Array; size: Vec3; before: Vec3 } {
  const before = [0, 1, 2].map((a) => Math.max(0, Math.floor((roi[a] - size[a]) / 2))) as Vec3;
  const padded = [0, 1, 2].map((a) => Math.max(size[a], roi[a])) as Vec3;
  if (padded.every((s, a) => s === size[a])) return { data, size, before };
  const out = new Float32Array(padded[0] * padded[1] * padded[2]);
  for (let z = 0; z < size[0]; z++) {
    for (let y = 0; y < size[1]; y++) {
      const src = (z * size[1] + y) * size[2];
      out.set(data.subarray(src, src + size[2]), ((z + before[0]) * padded[1] + y + before[1]) * padded[2] + before[2]);
    }
  }
  return { data: out, size: padded, before };
}

/** Copies the box at `start` of size `box` out of `src` [C, ...size] (tensor order) into `dst` at `offset`. */
function copyBox(src: Float32Array, size: Vec3, channels: number, start: Vec3, box: Vec3, dst: Float32Array, offset: number): void {
  let p = offset;
  for (let c = 0; c < channels; c++) {
    for (let z = 0; z < box[0]; z++) {
      for (let y = 0; y < box[1]; y++) {
        const s = ((c * size[0] + z + start[0]) * size[1] + y + start[1]) * size[2] + start[2];
        dst.set(src.subarray(s, s + box[2]), p);
        p += box[2];
      }
    }
  }
}

/**
 * Blended sliding-window prediction of `input` [D, H, W] (intensity-scaled, one channel): resolves
 * with [channels, D, H, W] float32, the weighted mean of the windows' outputs.
 */
export async function slidingWindowInference(
  input: Float32Array,
  size: Vec3,
  predict: BatchPredictor,
  o: WindowOptions,
): Promise<{ data: Float32Array; channels: number }> {
  if (!(o.overlap >= 0 && o.overlap < 1)) throw invalidArg('overlap', `expected a number in [0, 1), got ${o.overlap}`);
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw invalidArg('batchSize', `expected a positive integer, got ${o.batchSize}`);
  checkWindowCount(size, o.roi, o.overlap, 'overlap');
  const roi = o.roi;
  const padded = padToWindow(input, size, roi);
  const ps = padded.size;
  const starts = [0, 1, 2].map((a) => windowStarts(ps[a], roi[a], o.overlap));
  const windows: Vec3[] = [];
  for (const z of starts[0]) for (const y of starts[1]) for (const x of starts[2]) windows.push([z, y, x]);
  const weight = importanceMap(roi, o.blend, o.sigmaScale);
  const wn = roi[0] * roi[1] * roi[2];
  const total = ps[0] * ps[1] * ps[2];
  const norm = new Float32Array(total);
  let out: Float32Array | undefined;
  let channels = 0;
  for (let first = 0; first < windows.length; first += o.batchSize) {
    throwIfAborted(o.signal, 'predictVolume()');
    const batch = windows.slice(first, first + o.batchSize);
    const x = new Float32Array(batch.length * wn);
    batch.forEach((s, b) => copyBox(padded.data, ps, 1, s, roi, x, b * wn));
    const pred = await predict(x, batch.length, roi);
    if (!out) {
      channels = pred.channels;
      out = new Float32Array(channels * total);
    }
    if (pred.data.length !== batch.length * channels * wn)
      throw new Error(`engine returned ${pred.data.length} values for ${batch.length} windows of ${wn} voxels x ${channels} channels`);
    for (let b = 0; b < batch.length; b++) {
      const [sz, sy, sx] = batch[b];
      for (let c = 0; c < channels; c++) {
        const src = (b * channels + c) * wn;
        let q = 0;
        for (let z = 0; z < roi[0]; z++) {
          for (let y = 0; y < roi[1]; y++) {
            const row = ((c * ps[0] + z + sz) * ps[1] + y + sy) * ps[2] + sx;
            for (let xx = 0; xx < roi[2]; xx++, q++) out[row + xx] += Math.fround(pred.data[src + q] * weight[q]);
          }
        }
      }
      let q = 0;
      for (let z = 0; z < roi[0]; z++) {
        for (let y = 0; y < roi[1]; y++) {
          const row = ((z + sz) * ps[1] + y + sy) * ps[2] + sx;
          for (let xx = 0; xx < roi[2]; xx++, q++) norm[row + xx] += weight[q];
        }
      }
    }
  }
  const result = out!;
  for (let c = 0; c < channels; c++) {
    const base = c * total;
    for (let p = 0; p < total; p++) result[base + p] /= norm[p];
  }
  if (ps.every((s, a) => s === size[a])) return { data: result, channels };
  const cropped = new Float32Array(channels * size[0] * size[1] * size[2]);
  const perChannel = size[0] * size[1] * size[2];
  for (let c = 0; c < channels; c++) {
    copyBox(result.subarray(c * total, (c + 1) * total), ps, 1, padded.before, size, cropped, c * perChannel);
  }
  return { data: cropped, channels };
}
