/**
 * Sliding windows in TypeScript (nets/backends/sliding-window.ts), the engine-independent half of
 * the onnxruntime engine: MONAI's importance map centred at (roi - 1) / 2, the shared window plan,
 * padding of volumes smaller than a window, and the weighted mean of the windows' outputs.
 */
import { importanceMap, padToWindow, slidingWindowInference, BatchPredictor } from '../../src/ts/nets/backends/sliding-window';
import { flipBatch, scaleIntensity } from '../../src/ts/nets/backends/onnx-net';
import { windowStarts } from '../../src/ts/nets/sliding-window-plan';
import type { Vec3 } from '../../src/ts/volume';

const identity: BatchPredictor = async (batch) => ({ data: batch.slice(), channels: 1 });

function ramp(size: Vec3): Float32Array {
  return Float32Array.from({ length: size[0] * size[1] * size[2] }, (_, p) => Math.sin(p * 0.13) + p * 1e-3);
}

describe('importance map', () => {
  it.each([[[8, 8, 8] as Vec3], [[7, 9, 6] as Vec3]])('is a separable Gaussian centred at (roi - 1) / 2 with sigma 0.125 roi, floored at 1e-3: %p', (roi) => {
    const w = importanceMap(roi, 'gaussian', 0.125);
    const at = (z: number, y: number, x: number) => w[(z * roi[1] + y) * roi[2] + x];
    // symmetric about the centre on every axis (a centre at roi / 2 would break this for even sizes)
    for (let z = 0; z < roi[0]; z++)
      for (let y = 0; y < roi[1]; y++) for (let x = 0; x < roi[2]; x++) expect(at(z, y, x)).toBe(at(roi[0] - 1 - z, roi[1] - 1 - y, roi[2] - 1 - x));
    const g = (t: number, r: number) => Math.exp(-((t - (r - 1) / 2) ** 2) / (2 * (0.125 * r) ** 2));
    const c = roi.map((r) => Math.floor(r / 2));
    expect(at(c[0], c[1], c[2])).toBeCloseTo(Math.max(1e-3, g(c[0], roi[0]) * g(c[1], roi[1]) * g(c[2], roi[2])), 6);
    expect(Math.min(...w)).toBeCloseTo(1e-3, 9);
    expect(Math.max(...w)).toBeLessThanOrEqual(1);
    // odd sizes have their maximum 1 at the centre voxel
    if (roi[1] % 2) expect(Math.max(...Array.from({ length: roi[0] }, (_, z) => at(z, (roi[1] - 1) / 2, 0)))).toBeGreaterThan(0);
    expect(importanceMap(roi, 'constant', 0.125).every((v) => v === 1)).toBe(true);
  });

  it('refuses a non-positive sigma', () => {
    expect(() => importanceMap([4, 4, 4], 'gaussian', 0)).toThrow(/sigmaScale/);
  });
});

describe('slidingWindowInference', () => {
  it('returns the input for an identity network (the blend divides by the summed weights), with the window plan the addon uses', async () => {
    const size: Vec3 = [20, 17, 33];
    const roi: Vec3 = [8, 16, 12];
    const input = ramp(size);
    const seen: Vec3[] = [];
    let batches = 0;
    const predict: BatchPredictor = async (b, n, box) => {
      batches++;
      expect(box).toEqual(roi);
      for (let i = 0; i < n; i++) seen.push([0, 0, 0]);
      return identity(b, n, box);
    };
    const out = await slidingWindowInference(input.slice(), size, predict, { roi, overlap: 0.25, blend: 'gaussian', sigmaScale: 0.125, batchSize: 3 });
    expect(out.channels).toBe(1);
    for (let p = 0; p < input.length; p++) expect(out.data[p]).toBeCloseTo(input[p], 5);
    const expected = [0, 1, 2].reduce((n, a) => n * windowStarts(size[a], roi[a], 0.25).length, 1);
    expect(seen).toHaveLength(expected);
    expect(batches).toBe(Math.ceil(expected / 3));
  });

  it('pads a volume smaller than the window (floor before) and crops the result back', async () => {
    const size: Vec3 = [5, 9, 4];
    const roi: Vec3 = [8, 8, 8];
    const padded = padToWindow(ramp(size), size, roi);
    expect(padded.size).toEqual([8, 9, 8]);
    expect(padded.before).toEqual([1, 0, 2]);
    expect(padded.data[(1 * 9 + 0) * 8 + 2]).toBe(ramp(size)[0]);
    const out = await slidingWindowInference(ramp(size), size, identity, { roi, overlap: 0.5, blend: 'constant', sigmaScale: 0.125, batchSize: 1 });
    expect(Array.from(out.data)).toEqual(Array.from(ramp(size)));
  });

  it('blends overlapping windows as the weighted mean of their outputs, per channel', async () => {
    const size: Vec3 = [4, 4, 10];
    const roi: Vec3 = [4, 4, 6];
    const w = importanceMap(roi, 'gaussian', 0.125);
    let call = 0;
    // window 0 (x 0..5) predicts 1 and 10, window 1 (x 4..9) predicts 3 and 30, on two channels
    const predict: BatchPredictor = async (_b, n) => {
      const v = call++ === 0 ? 1 : 3;
      const data = new Float32Array(n * 2 * 96);
      data.fill(v, 0, 96);
      data.fill(10 * v, 96);
      return { data, channels: 2 };
    };
    const out = await slidingWindowInference(new Float32Array(160), size, predict, { roi, overlap: 0.3, blend: 'gaussian', sigmaScale: 0.125, batchSize: 1 });
    expect(windowStarts(10, 6, 0.3)).toEqual([0, 4]);
    expect(out.channels).toBe(2);
    const x = 5; // in both windows: local x 5 in the first, 1 in the second
    const w0 = w[x],
      w1 = w[x - 4];
    expect(out.data[x]).toBeCloseTo((1 * w0 + 3 * w1) / (w0 + w1), 5);
    expect(out.data[160 + x]).toBeCloseTo((10 * w0 + 30 * w1) / (w0 + w1), 4);
    expect(out.data[0]).toBeCloseTo(1, 6);
    expect(out.data[9]).toBeCloseTo(3, 6);
  });

  it('stops between windows when aborted, and refuses bad options', async () => {
    const ac = new AbortController();
    const predict: BatchPredictor = async (b, n, box) => {
      ac.abort();
      return identity(b, n, box);
    };
    await expect(
      slidingWindowInference(ramp([16, 16, 16]), [16, 16, 16], predict, {
        roi: [8, 8, 8],
        overlap: 0.25,
        blend: 'gaussian',
        sigmaScale: 0.125,
        batchSize: 1,
        signal: ac.signal,
      }),
    ).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    await expect(
      slidingWindowInference(ramp([8, 8, 8]), [8, 8, 8], identity, { roi: [8, 8, 8], overlap: 1, blend: 'gaussian', sigmaScale: 0.125, batchSize: 1 }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
    await expect(
      slidingWindowInference(ramp([64, 64, 64]), [64, 64, 64], identity, { roi: [2, 2, 2], overlap: 0.9, blend: 'gaussian', sigmaScale: 0.125, batchSize: 1 }),
    ).rejects.toThrow(/windows/);
  });
});

describe('the engine-side preprocessing', () => {
  it('scales intensity as the addon does, in float32: (x - aMin) * scale + bMin, clipped', () => {
    const w = { aMin: -300, aMax: 300, bMin: 0, bMax: 1, clip: true };
    const y = scaleIntensity(Int16Array.from([-1000, -300, 0, 150, 300, 2000]), w);
    expect(Array.from(y)).toEqual([0, 0, 0.5, 0.75, 1, 1].map(Math.fround));
    expect(Array.from(scaleIntensity(Int16Array.from([-600]), { ...w, clip: false }))).toEqual([Math.fround(-0.5)]);
    expect(Array.from(scaleIntensity(Int16Array.from([7]), undefined))).toEqual([7]);
  });

  it('flips batches along tensor axes, and flipping twice is the identity', () => {
    const size: Vec3 = [2, 3, 4];
    const x = Float32Array.from({ length: 2 * 24 }, (_, i) => i);
    const fx = flipBatch(x, [4], 1, 2, size);
    expect(Array.from(fx.subarray(0, 4))).toEqual([3, 2, 1, 0]);
    const fzy = flipBatch(x, [2, 3], 2, 1, size);
    expect(fzy[0]).toBe(x[(1 * 3 + 2) * 4]);
    for (const dims of [[2], [3], [4], [2, 3, 4]]) expect(Array.from(flipBatch(flipBatch(x, dims, 2, 1, size), dims, 2, 1, size))).toEqual(Array.from(x));
  });
});
