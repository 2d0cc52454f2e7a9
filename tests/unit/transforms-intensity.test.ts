import {
  ScaleIntensityRanged,
  scaleIntensityRange,
  RandGaussianNoised,
  addGaussianNoise,
  RandScaleIntensityd,
  RandShiftIntensityd,
  castToFloat32,
  CastToFloat32d,
  ensureBinaryLabel,
  EnsureBinaryLabeld,
} from '../../src/ts/transforms';
import { Rng } from '../../src/ts/util/rng';
import { vol } from '../helpers/volumes';

describe('ScaleIntensityRange', () => {
  const ct = vol(new Int16Array([-1000, -300, -150, 0, 150, 300, 1000, 45]), [2, 2, 2]);

  test('follows y = (x - aMin) / (aMax - aMin) * (bMax - bMin) + bMin, float32 out', () => {
    const out = scaleIntensityRange(ct, { aMin: -300, aMax: 300, bMin: 0, bMax: 1 });
    expect(out.data).toBeInstanceOf(Float32Array);
    const expected = [-1000, -300, -150, 0, 150, 300, 1000, 45].map((x) => ((x + 300) / 600) * 1 + 0);
    expected.forEach((e, i) => expect(out.data[i]).toBeCloseTo(e, 6));
    // Unclipped: values outside the window extrapolate.
    expect(out.data[0]).toBeCloseTo(-700 / 600, 6);
    expect(out.data[6]).toBeCloseTo(1300 / 600, 6);
  });

  test('clip clamps to [bMin, bMax]; a non-unit output range scales and offsets', () => {
    const out = scaleIntensityRange(ct, { aMin: -300, aMax: 300, bMin: -1, bMax: 3, clip: true });
    expect(Array.from(out.data.slice(0, 7))).toEqual([-1, -1, 0, 1, 2, 3, 3]);
    expect(out.data[7]).toBeCloseTo((345 / 600) * 4 - 1, 6);
  });

  test('keeps geometry and never touches the input', () => {
    const before = Int16Array.from(ct.data);
    const out = scaleIntensityRange(ct, { aMin: 0, aMax: 1, bMin: 0, bMax: 1 });
    expect(Array.from(ct.data)).toEqual(Array.from(before));
    expect(out.shape).toEqual(ct.shape);
    expect(out.affine).toEqual(ct.affine);
    expect(out.affine).not.toBe(ct.affine);
  });

  test('dictionary form applies to its keys only', () => {
    const label = vol(new Uint8Array(8).fill(1), [2, 2, 2]);
    const t = new ScaleIntensityRanged({ keys: ['image'], aMin: -300, aMax: 300, bMin: 0, bMax: 1, clip: true });
    const s = t.apply({ image: ct, label, name: 'x' });
    expect(s.label).toBe(label);
    expect(s.name).toBe('x');
    expect(s.image.data[3]).toBeCloseTo(0.5, 6);
    expect(() => t.apply({ label } as never)).toThrow(/no key 'image'/);
  });
});

describe('random intensity transforms', () => {
  const flat = vol(new Float32Array(20000).fill(10), [100, 100, 2]);

  test('RandGaussianNoise adds noise of the requested spread, reproducibly', () => {
    const a = addGaussianNoise(flat, 0, 2, 1234);
    const b = addGaussianNoise(flat, 0, 2, 1234);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    let m = 0;
    for (const v of a.data) m += v;
    m /= a.data.length;
    let s2 = 0;
    for (const v of a.data) s2 += (v - m) ** 2;
    const sd = Math.sqrt(s2 / a.data.length);
    expect(m).toBeCloseTo(10, 1);
    expect(sd).toBeGreaterThan(1.9);
    expect(sd).toBeLessThan(2.1);
    // Gaussian, not just the right spread: the one- and two-sigma masses.
    let in1 = 0;
    let in2 = 0;
    for (const v of a.data) {
      const z = Math.abs(v - 10) / 2;
      if (z < 1) in1++;
      if (z < 2) in2++;
    }
    expect(in1 / a.data.length).toBeCloseTo(0.6827, 1);
    expect(Math.abs(in2 / a.data.length - 0.9545)).toBeLessThan(0.01);
    expect(Array.from(flat.data.slice(0, 5))).toEqual([10, 10, 10, 10, 10]);
  });

  test('prob 0 never changes the sample, prob 1 always does; same seed, same result', () => {
    const never = new RandGaussianNoised({ keys: ['image'], prob: 0, std: 1 });
    const always = new RandGaussianNoised({ keys: ['image'], prob: 1, std: 1 });
    expect(never.apply({ image: flat }, new Rng(1)).image).toBe(flat);
    const x = always.apply({ image: flat }, new Rng(5)).image;
    const y = always.apply({ image: flat }, new Rng(5)).image;
    const z = always.apply({ image: flat }, new Rng(6)).image;
    expect(x).not.toBe(flat);
    expect(Array.from(x.data)).toEqual(Array.from(y.data));
    expect(Array.from(x.data)).not.toEqual(Array.from(z.data));
    expect(() => always.apply({ image: flat })).toThrow(/needs an Rng/);
  });

  test('RandScaleIntensity multiplies by 1 + f with |f| <= factors; RandShiftIntensity adds |o| <= offsets', () => {
    const sc = new RandScaleIntensityd({ keys: ['image'], prob: 1, factors: 0.2 });
    const sh = new RandShiftIntensityd({ keys: ['image'], prob: 1, offsets: 3 });
    const factors = new Set<number>();
    for (let seed = 0; seed < 50; seed++) {
      const a = sc.apply({ image: flat }, new Rng(seed)).image.data;
      const f = a[0] / 10;
      expect(f).toBeGreaterThanOrEqual(0.8);
      expect(f).toBeLessThanOrEqual(1.2);
      expect(a.every((v) => v === a[0])).toBe(true);
      factors.add(Math.round(f * 1000));
      const b = sh.apply({ image: flat }, new Rng(seed)).image.data;
      expect(b[0] - 10).toBeGreaterThanOrEqual(-3);
      expect(b[0] - 10).toBeLessThanOrEqual(3);
    }
    expect(factors.size).toBeGreaterThan(40);
  });
});

describe('casts and label remapping', () => {
  test('CastToFloat32 converts, and returns float32 input as is', () => {
    const i16 = vol(new Int16Array([1, -2, 3, 4, 5, 6, 7, 8]), [2, 2, 2]);
    const f = castToFloat32(i16);
    expect(f.data).toBeInstanceOf(Float32Array);
    expect(Array.from(f.data)).toEqual([1, -2, 3, 4, 5, 6, 7, 8]);
    expect(castToFloat32(f)).toBe(f);
    expect(new CastToFloat32d({ keys: 'image' }).apply({ image: i16 }).image.data).toBeInstanceOf(Float32Array);
  });

  test('EnsureBinaryLabel: non-zero -> 1 by default; a mapping selects classes, unlisted values -> 0', () => {
    const lab = vol(new Int16Array([0, 1, 2, 2, 1, 0, 3, -1]), [2, 2, 2]);
    const bin = ensureBinaryLabel(lab);
    expect(bin.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(bin.data)).toEqual([0, 1, 1, 1, 1, 0, 1, 1]);
    expect(Array.from(ensureBinaryLabel(lab, { mapping: { 2: 1 } }).data)).toEqual([0, 0, 1, 1, 0, 0, 0, 0]);
    expect(Array.from(ensureBinaryLabel(lab, { mapping: { 1: 1, 2: 2 } }).data)).toEqual([0, 1, 2, 2, 1, 0, 0, 0]);
    const t = new EnsureBinaryLabeld({ keys: ['label'] });
    expect(Array.from(t.apply({ image: lab, label: lab }).label!.data)).toEqual([0, 1, 1, 1, 1, 0, 1, 1]);
    expect(() => new EnsureBinaryLabeld({ keys: ['label'], mapping: { 1: 300 } })).toThrow(/0..255/);
  });
});
