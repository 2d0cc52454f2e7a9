/**
 * MONAI 1.4 semantics of the native pieces, on small hand-made arrays with results worked out by
 * hand (facts from MONAI's source, not MONAI's code): the sliding window's Gaussian weights,
 * AsDiscrete(threshold=0.5) masks, DiceMetric's ground truth and include_background,
 * KeepLargestConnectedComponent's ties and values; and two native invariants: allocation failures
 * in our words, and a bounded window count.
 */
import type { NativeBinding, NativeModel, NativePredictOptions, NativeTestHooks } from '../../src/ts/native/binding';
import { loadBinding } from '../../src/ts/native/loader';
import { rawModelConfig } from '../helpers/native-config';
import { largestComponent } from '../../src/ts/native/ops';
import { LiversegError } from '../../src/ts/errors';
import type { Vec3 } from '../../src/ts/volume';

const b = loadBinding() as NativeBinding & NativeTestHooks;

const config = rawModelConfig;
const predict: NativePredictOptions = {
  sliding: false,
  overlap: 0.25,
  blend: 'gaussian',
  sigmaScale: 0.125,
  batchSize: 1,
  accumulate: 'auto',
  deviceLimitBytes: 2 ** 32,
  mirror: false,
  output: 'mask',
};

async function rejection(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected a rejection');
}

describe("sliding-window Gaussian weights: MONAI's compute_importance_map", () => {
  // MONAI: sigma = 0.125 * roi; x = arange(-(roi - 1) / 2, (roi - 1) / 2 + 1), i.e. centred at
  // (roi - 1) / 2 in voxel index; g = exp(x^2 / (-2 sigma^2)); separable product; clamped to at
  // least 1e-3 (max(min, 1e-3)); not divided by its maximum.
  const g = (n: number, x: number) => Math.exp(-((x - (n - 1) / 2) ** 2) / (2 * (0.125 * n) ** 2));

  it('matches the hand-computed map for a 5 x 4 x 4 window', () => {
    const w = b._importanceMap([5, 4, 4], 0.125);
    expect(w.shape).toEqual([5, 4, 4]);
    for (let a = 0; a < 5; a++)
      for (let c = 0; c < 4; c++)
        for (let d = 0; d < 4; d++) {
          const want = Math.max(g(5, a) * g(4, c) * g(4, d), 1e-3);
          expect(Math.abs(w.data[(a * 4 + c) * 4 + d] - want) / want).toBeLessThan(1e-5);
        }
    // roi 4 is centred at 1.5: voxels 1 and 2 tie at exp(-0.5); the peak is exp(-1), not 1.
    expect(w.data[(2 * 4 + 1) * 4 + 1]).toBeCloseTo(Math.exp(-1), 6);
    expect(w.data[(2 * 4 + 1) * 4 + 2]).toBe(w.data[(2 * 4 + 2) * 4 + 1]);
    expect(Math.max(...w.data)).toBeCloseTo(Math.exp(-1), 6);
    expect(w.data[0]).toBeCloseTo(1e-3, 9); // exp(-5.12 - 4.5 - 4.5) = 7.4e-7, floored
    expect(w.data[(1 * 4 + 0) * 4 + 1]).toBeCloseTo(Math.exp(-1.28 - 4.5 - 0.5), 7); // 0.00187: above the floor
  });

  it('is symmetric about (roi - 1) / 2 and peaks at 1 on an odd window', () => {
    const w = b._importanceMap([1, 1, 6], 0.125);
    const row = Array.from(w.data);
    expect(row).toEqual([...row].reverse());
    expect(b._importanceMap([3, 3, 3], 0.125).data[13]).toBe(1);
  });
});

describe("masks: MONAI's AsDiscrete(threshold=0.5) on the sigmoid", () => {
  it('predictVolume counts a logit of exactly 0 as foreground', async () => {
    // With every weight 0 the network's output is exactly 0 everywhere: sigmoid 0.5 >= 0.5.
    const m: NativeModel = await b.createModel(config());
    const zeros = (await m.getWeights()).map((t) => ({ ...t, data: new Float32Array(t.data.length) }));
    await m.setWeights(zeros);
    const volume = { data: new Float32Array(4 * 4 * 4).fill(1), shape: [4, 4, 4] };
    const logits = await m.predictVolume(volume, { ...predict, output: 'logits' });
    expect(Array.from(logits.data).every((v) => v === 0)).toBe(true);
    const mask = await m.predictVolume(volume, predict);
    expect(Array.from(mask.data)).toEqual(new Array(64).fill(1));
    m.dispose();
  });

  it('the Dice metric counts a logit of 0, and one channel counts label == 1 (not label != 0)', async () => {
    const t = (v: number[]) => ({ data: Float32Array.from(v), shape: [1, 1, v.length, 1, 1] });
    // logit 0 counts: P = G = {0}
    expect((await b._diceMetric(t([0, -1]), t([1, 0]), true)).data[0]).toBe(1);
    // label 2 is not class 1: G = {0}, P = {0, 1}: 2 * 1 / (2 + 1)
    expect((await b._diceMetric(t([5, 5]), t([1, 2]), true)).data[0]).toBeCloseTo(2 / 3, 12);
  });
});

describe('includeBackground, as MONAI (DiceLoss and DiceMetric)', () => {
  // Two channels: channel 0 predicted perfectly, channel 1 half right (P = {0, 3}, G = {2, 3}).
  const logits = { data: Float32Array.from([10, 10, -10, -10, 10, -10, -10, 10]), shape: [1, 2, 4, 1, 1] };
  const target = { data: Float32Array.from([1, 1, 0, 0, 0, 0, 1, 1]), shape: [1, 2, 4, 1, 1] };

  it('false leaves channel 0 out when there are several channels', async () => {
    const all = await b._diceMetric(logits, target, true);
    expect(all.shape).toEqual([1, 2]);
    expect(Array.from(all.data)).toEqual([1, 0.5]);
    const fg = await b._diceMetric(logits, target, false);
    expect(fg.shape).toEqual([1, 1]);
    expect(fg.data[0]).toBe(0.5);
    expect(await b._diceLoss(logits, target, false)).toBeCloseTo(0.5, 3);
    expect(await b._diceLoss(logits, target, true)).toBeCloseTo(0.25, 3);
  });

  it('with one channel it is ignored (MONAI warns and keeps the channel)', async () => {
    const one = { data: Float32Array.from([10, -10]), shape: [1, 1, 2, 1, 1] };
    const g = { data: Float32Array.from([1, 0]), shape: [1, 1, 2, 1, 1] };
    expect((await b._diceMetric(one, g, false)).data[0]).toBe(1);
    expect(await b._diceLoss(one, g, false)).toBeLessThan(1e-3);
  });

  it('is a required field of the model config, and evaluate honours it', async () => {
    const noField: Record<string, unknown> = { ...config() };
    delete noField.includeBackground;
    expect(() => b.createModel(noField as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringContaining("'includeBackground'") }),
    );
    const m = await b.createModel(config({ outChannels: 2, includeBackground: false }));
    const images = { data: new Float32Array(2 * 4 * 4 * 4).fill(0.5), shape: [2, 1, 4, 4, 4] };
    const labels = { data: new Float32Array(2 * 2 * 4 * 4 * 4).fill(1), shape: [2, 2, 4, 4, 4] };
    expect((await m.evaluate(images, labels)).shape).toEqual([2, 1]);
    expect(Number.isFinite(await m.trainStep(images, labels))).toBe(true);
    m.dispose();
  });

  it('the loss target stays binary (label > 0) for one channel', async () => {
    // Two models from the same seed: labels of 2 and labels of 1 give the same loss.
    const m = await b.createModel(config());
    const images = { data: new Float32Array(8), shape: [1, 1, 2, 2, 2] };
    const twos = { data: new Float32Array(8).fill(2), shape: [1, 1, 2, 2, 2] };
    const ones = { data: new Float32Array(8).fill(1), shape: [1, 1, 2, 2, 2] };
    const a = await m.trainStep(images, twos);
    const m2 = await b.createModel(config());
    expect(await m2.trainStep(images, ones)).toBeCloseTo(a, 6);
    m.dispose();
    m2.dispose();
  });
});

describe("largestComponent: MONAI's KeepLargestConnectedComponent (independent=True)", () => {
  /** A mask of `shape` [ni, nj, nk] with the given [i, j, k] voxels set to `value`. */
  function mask(shape: Vec3, on: Array<[number, number, number, number?]>): Uint8Array {
    const m = new Uint8Array(shape[0] * shape[1] * shape[2]);
    for (const [i, j, k, v] of on) m[(k * shape[1] + j) * shape[0] + i] = v ?? 1;
    return m;
  }
  const shape: Vec3 = [4, 1, 4];
  const at = (m: Uint8Array, i: number, k: number) => m[k * 4 + i];

  it('on a tie keeps the component MONAI keeps: argsort(counts)[::-1] takes the last label of its C-order [i, j, k] scan', async () => {
    // MONAI scans [i, j, k] with k fastest. (0, 0, 2)-(0, 0, 3) is its label 1, (2, 0, 0)-(3, 0, 0)
    // its label 2: it keeps label 2. Our memory (i fastest) meets (2, 0, 0) first, so neither
    // "first in our scan" nor "last in our scan" is MONAI's rule on both of these cases.
    let out = await largestComponent(
      mask(shape, [
        [0, 0, 2],
        [0, 0, 3],
        [2, 0, 0],
        [3, 0, 0],
      ]),
      shape,
      6,
    );
    expect([at(out.mask, 0, 2), at(out.mask, 0, 3), at(out.mask, 2, 0), at(out.mask, 3, 0)]).toEqual([0, 0, 1, 1]);
    out = await largestComponent(
      mask(shape, [
        [0, 0, 0],
        [3, 0, 3],
      ]),
      shape,
      6,
    );
    expect([at(out.mask, 0, 0), at(out.mask, 3, 3)]).toEqual([0, 1]);
    expect(out).toMatchObject({ components: 2, keptVoxels: 1 });
  });

  it('keeps each value its own largest component, with its value', async () => {
    const m = mask(shape, [
      [0, 0, 0, 1],
      [1, 0, 0, 1],
      [2, 0, 0, 1],
      [3, 0, 0, 2], // a single 2 touching the 1s: its own mask, not part of them
      [0, 0, 3, 1],
      [2, 0, 3, 2],
      [3, 0, 3, 2],
    ]);
    const out = await largestComponent(m, shape, 26);
    expect(Array.from(out.mask)).toEqual(
      Array.from(
        mask(shape, [
          [0, 0, 0, 1],
          [1, 0, 0, 1],
          [2, 0, 0, 1],
          [2, 0, 3, 2],
          [3, 0, 3, 2],
        ]),
      ),
    );
    expect(out).toMatchObject({ components: 4, keptVoxels: 5 });
    const raw = await b.largestComponent({ data: m, shape: [4, 1, 4] }, 26);
    expect(raw.totalVoxels).toBe(7);
  });

  it('a single component is kept whole, values and all', async () => {
    const m = mask(
      [3, 1, 1],
      [
        [0, 0, 0, 5],
        [1, 0, 0, 5],
        [2, 0, 0, 5],
      ],
    );
    expect(Array.from((await largestComponent(m, [3, 1, 1], 6)).mask)).toEqual([5, 5, 5]);
  });
});

describe('allocation failures come out as ERR_TORCH_OOM in our words', () => {
  it("a 1 TiB resize names the size and device, never the allocator's text", async () => {
    const e = await rejection(b.resize({ data: new Float32Array(8), shape: [2, 2, 2] }, [65536, 65536, 64], 'area'));
    expect(e.code).toBe('ERR_TORCH_OOM');
    expect(e.message).toMatch(/^Out of memory: could not allocate 1\.0 TiB on cpu/);
    expect(e.message).not.toMatch(/DefaultCPUAllocator|you tried to allocate|Error code/);
  });

  it('through the TypeScript layer it is a LiversegError with that code', async () => {
    const { resizeNative } = await import('../../src/ts/native/ops');
    const e = await rejection(resizeNative(new Float32Array(8), [2, 2, 2], [64, 65536, 65536], 'area'));
    expect(e).toBeInstanceOf(LiversegError);
    expect(e.code).toBe('ERR_TORCH_OOM');
  });
});

describe('the window count is bounded before anything runs', () => {
  it('overlap 0.99 with a 4-voxel window on 60^3 (185,193 windows) is refused quickly, naming overlap and roi', async () => {
    const m = await b.createModel(config());
    const t0 = Date.now();
    const e = await rejection(
      m.predictVolume({ data: new Float32Array(60 ** 3), shape: [60, 60, 60] }, { ...predict, sliding: true, roi: [4, 4, 4], overlap: 0.99 }),
    );
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(e.code).toBe('ERR_INVALID_ARG');
    expect(e.message).toMatch(/'overlap'.*roi \[4, 4, 4\].*185193 windows, more than 100000/);
    // overlap 0.5 (a step of 2) on 16^3 is 7^3 windows: within the bound
    const ok = await m.predictVolume({ data: new Float32Array(16 ** 3), shape: [16, 16, 16] }, { ...predict, sliding: true, roi: [4, 4, 4], overlap: 0.5 });
    expect(ok.shape).toEqual([1, 16, 16, 16]);
    m.dispose();
  });
});
