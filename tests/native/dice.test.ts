import type { NativeBinding, NativeTestHooks } from '../../src/ts/native/binding';
import { loadBinding } from '../../src/ts/native/loader';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

function t(values: number[], shape: number[]) {
  return { data: Float32Array.from(values), shape };
}

describe('DiceLoss', () => {
  const b = loadBinding() as NativeBinding & NativeTestHooks;

  it('matches the hand-computed value for one sample', async () => {
    const logits = [2, -1, 0.5, -3];
    const target = [1, 0, 1, 1];
    const p = logits.map(sigmoid);
    const inter = p.reduce((a, v, i) => a + v * target[i], 0);
    const expected = 1 - (2 * inter + 1e-5) / (p.reduce((a, v) => a + v, 0) + 3 + 1e-5);
    const loss = await b._diceLoss(t(logits, [1, 1, 1, 2, 2]), t(target, [1, 1, 1, 2, 2]), true);
    expect(loss).toBeCloseTo(expected, 6);
  });

  it('averages over the batch and channels', async () => {
    const logits = [5, 5, -5, -5, 1, -1, 1, -1];
    const target = [1, 1, 0, 0, 0, 0, 0, 0];
    const per = (l: number[], g: number[]) => {
      const p = l.map(sigmoid);
      const inter = p.reduce((a, v, i) => a + v * g[i], 0);
      return 1 - (2 * inter + 1e-5) / (p.reduce((a, v) => a + v, 0) + g.reduce((a, v) => a + v, 0) + 1e-5);
    };
    const expected = (per(logits.slice(0, 4), target.slice(0, 4)) + per(logits.slice(4), target.slice(4))) / 2;
    expect(await b._diceLoss(t(logits, [2, 1, 4, 1, 1]), t(target, [2, 1, 4, 1, 1]), true)).toBeCloseTo(expected, 6);
  });

  it('gives about 0 for an empty prediction of an empty target (smoothing) and about 1 for a miss', async () => {
    expect(await b._diceLoss(t([-30, -30], [1, 1, 2, 1, 1]), t([0, 0], [1, 1, 2, 1, 1]), true)).toBeLessThan(1e-4);
    expect(await b._diceLoss(t([-30, -30], [1, 1, 2, 1, 1]), t([1, 1], [1, 1, 2, 1, 1]), true)).toBeGreaterThan(0.999);
  });
});

describe('DiceMetric', () => {
  const b = loadBinding() as NativeBinding & NativeTestHooks;

  it('thresholds logits at 0 and computes 2|P and G| / (|P| + |G|) per case', async () => {
    // case 0: P = {0, 1}, G = {1, 2} -> 2 * 1 / 4 = 0.5; case 1: P = G = {3} -> 1
    const logits = [1, 0.1, -1, -2, -1, -1, -1, 3];
    const target = [0, 1, 1, 0, 0, 0, 0, 1];
    const out = await b._diceMetric(t(logits, [2, 1, 4, 1, 1]), t(target, [2, 1, 4, 1, 1]), true);
    expect(out.shape).toEqual([2, 1]);
    expect(out.data[0]).toBeCloseTo(0.5, 12);
    expect(out.data[1]).toBeCloseTo(1, 12);
  });

  it('treats a logit of exactly 0 as foreground (sigmoid 0.5 >= 0.5, as MONAI)', async () => {
    const out = await b._diceMetric(t([0, 1], [1, 1, 2, 1, 1]), t([1, 1], [1, 1, 2, 1, 1]), true);
    expect(out.data[0]).toBe(1);
  });

  it('gives NaN for an empty ground truth and 0 for an empty prediction of a non-empty one', async () => {
    const out = await b._diceMetric(t([1, 1, -1, -1], [2, 1, 2, 1, 1]), t([0, 0, 1, 0], [2, 1, 2, 1, 1]), true);
    expect(Number.isNaN(out.data[0])).toBe(true);
    expect(out.data[1]).toBe(0);
  });
});
