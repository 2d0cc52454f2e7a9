import { cosineRestarts, warmupCosine } from '../../src/ts/engines/schedulers';

describe('CosineAnnealingWarmRestarts', () => {
  const s = cosineRestarts(0.008, 5, 3);
  // The lr printed after epoch e is the rate after e scheduler steps: lrForEpoch(e).
  it.each([
    [1, 0.00723606797749979],
    [2, 0.00523606797749979],
    [5, 0.008],
    [6, 0.007912590402935222],
    [10, 0.006],
    [20, 0.008],
  ])('reproduces the report log after epoch %i', (e, lr) => {
    expect(s.lrForEpoch(e)).toBeCloseTo(lr, 15);
  });

  it('restarts at epochs 5, 20, 65 and 200', () => {
    for (const e of [0, 5, 20, 65, 200]) expect(s.lrForEpoch(e)).toBeCloseTo(0.008, 15);
    for (const e of [4, 19, 64, 199]) expect(s.lrForEpoch(e)).toBeLessThan(0.001);
  });

  it('follows the closed form with eta_min', () => {
    const t = cosineRestarts(1, 4, 1, 0.1);
    expect(t.lrForEpoch(2)).toBeCloseTo(0.1 + (0.9 * (1 + Math.cos(Math.PI / 2))) / 2, 15);
    expect(t.lrForEpoch(6)).toBeCloseTo(t.lrForEpoch(2), 15);
  });
});

describe('warm-up then cosine', () => {
  it('rises linearly, peaks at the base rate, decays to eta_min at the end', () => {
    const s = warmupCosine(0.01, 4, 20, 0.0001);
    expect(s.lrForEpoch(0)).toBeCloseTo(0.0025, 12);
    expect(s.lrForEpoch(3)).toBeCloseTo(0.01, 12);
    expect(s.lrForEpoch(4)).toBeCloseTo(0.01, 12);
    expect(s.lrForEpoch(20)).toBeCloseTo(0.0001, 12);
    for (let e = 5; e < 20; e++) expect(s.lrForEpoch(e)).toBeLessThan(s.lrForEpoch(e - 1));
  });
});
