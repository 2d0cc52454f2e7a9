/** Every transform on the real CT sample (tests/fixtures/ct-sample, MSD layout), through loadMsdDataset and Dataset. */
import * as path from 'node:path';
import { CacheDataset, DataLoader, Dataset, loadMsdDataset } from '../../src/ts/data';
import type { CaseRecord } from '../../src/ts/data';
import {
  CastToFloat32d,
  Compose,
  CropForegroundd,
  EnsureBinaryLabeld,
  Orientationd,
  RandAffined,
  RandCropByPosNegLabeld,
  RandFlipd,
  RandGaussianNoised,
  RandRotate90d,
  RandScaleIntensityd,
  RandShiftIntensityd,
  Resized,
  ScaleIntensityRanged,
  Spacingd,
  SpatialPadd,
  pasteBack,
} from '../../src/ts/transforms';
import type { Sample, StoredBox, Transform } from '../../src/ts/transforms';
import { axcodes } from '../../src/ts/geometry';
import { Rng } from '../../src/ts/util/rng';
import type { Volume } from '../../src/ts/volume';

const LIVER_VOXELS = 38634;
let cases: CaseRecord[];
let raw: Sample;

function count(v: Volume, pred: (x: number) => boolean): number {
  let n = 0;
  for (const x of v.data) if (pred(x)) n++;
  return n;
}
function range(v: Volume): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of v.data) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return [lo, hi];
}
/** Byte-for-byte equality; jest's deep equality is slow on arrays of this size. */
function sameData(a: Volume, b: Volume): boolean {
  return (
    a.data.constructor === b.data.constructor &&
    Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).equals(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength))
  );
}
function labelValues(v: Volume): number[] {
  return [...new Set(v.data)].sort();
}
function run(t: Transform | Transform[], s: Sample = raw, seed = 1): Sample[] {
  return new Compose(Array.isArray(t) ? t : [t]).applyAll(s, new Rng(seed));
}

beforeAll(async () => {
  const msd = await loadMsdDataset(path.join(__dirname, '..', 'fixtures', 'ct-sample'));
  cases = msd.training;
  raw = (await new Dataset(cases).get(0)) as Sample;
});

describe('the real CT sample through every transform', () => {
  test('loads through loadMsdDataset + Dataset with its geometry', () => {
    expect(cases).toHaveLength(1);
    expect(raw.image.shape).toEqual([122, 101, 30]);
    expect(raw.image.data).toBeInstanceOf(Int16Array);
    expect(raw.label!.data).toBeInstanceOf(Uint8Array);
    expect(count(raw.label!, (x) => x === 1)).toBe(LIVER_VOXELS);
    expect(axcodes(raw.image.affine)).toBe('RAS');
  });

  test('the liver is on the patient right of the body centre (orientation sanity)', () => {
    const [ni, nj] = raw.image.shape;
    let body = 0;
    let bodyX = 0;
    let liverX = 0;
    raw.image.data.forEach((v, n) => {
      const x = raw.image.affine[0][0] * (n % ni) + raw.image.affine[0][3];
      if (v > -500) {
        body++;
        bodyX += x;
      }
      if (raw.label!.data[n] === 1) liverX += x;
    });
    void nj;
    expect(liverX / LIVER_VOXELS).toBeGreaterThan(bodyX / body + 30);
  });

  test('Orientation (to LPS and back) and Spacing', () => {
    const [lps] = run(new Orientationd({ keys: ['image', 'label'], axcodes: 'LPS' }));
    expect(axcodes(lps.image.affine)).toBe('LPS');
    expect(count(lps.label!, (x) => x === 1)).toBe(LIVER_VOXELS);
    const [ras] = run(new Orientationd({ keys: ['image', 'label'] }), lps);
    expect(sameData(ras.image, raw.image)).toBe(true);
    const [sp] = run(new Spacingd({ keys: ['image', 'label'], pixdim: [6, 6, 6] }));
    // io's grid rule: round((n - 1) * old / new) + 1 voxels per axis.
    expect(sp.image.shape).toEqual([62, 51, 16]);
    expect(labelValues(sp.label!)).toEqual([0, 1]);
    // About 1/8 of the liver voxels at twice the voxel size.
    expect(count(sp.label!, (x) => x === 1) / (LIVER_VOXELS / 8)).toBeGreaterThan(0.85);
    expect(count(sp.label!, (x) => x === 1) / (LIVER_VOXELS / 8)).toBeLessThan(1.15);
    const [lo, hi] = range(sp.image);
    expect(lo).toBeGreaterThanOrEqual(-1100);
    expect(hi).toBeLessThanOrEqual(1207);
  });

  test('ScaleIntensityRange, EnsureBinaryLabel, CastToFloat32', () => {
    const [s] = run([
      new ScaleIntensityRanged({ keys: ['image'], aMin: -300, aMax: 300, bMin: 0, bMax: 1, clip: true }),
      new EnsureBinaryLabeld({ keys: ['label'] }),
      new CastToFloat32d({ keys: ['image'] }),
    ]);
    expect(range(s.image)).toEqual([0, 1]);
    // Liver tissue (about 40..160 HU here) lands inside the window, not on its edges.
    let mean = 0;
    s.label!.data.forEach((l, n) => l && (mean += s.image.data[n]));
    mean /= LIVER_VOXELS;
    expect(mean).toBeGreaterThan(0.55);
    expect(mean).toBeLessThan(0.8);
    expect(labelValues(s.label!)).toEqual([0, 1]);
  });

  test('CropForeground with a margin holds the whole liver and pastes back exactly', () => {
    const [s] = run(new CropForegroundd({ keys: ['image', 'label'], sourceKey: 'label', margin: 5 }));
    const box = s.foregroundBox as StoredBox;
    expect(count(s.label!, (x) => x === 1)).toBe(LIVER_VOXELS);
    expect(s.image.shape.every((n, d) => n < raw.image.shape[d] || box.start[d] === 0)).toBe(true);
    expect(sameData(pasteBack(s.label!, box, box.shape, { like: raw.label }), raw.label!)).toBe(true);
    const img = pasteBack(s.image, box, box.shape, { fill: -1024 });
    expect(img.shape).toEqual(raw.image.shape);
  });

  test('SpatialPad to 128^3 and Resize to 64^3', () => {
    const [p] = run(new SpatialPadd({ keys: ['image', 'label'], size: [128, 128, 128] }));
    expect(p.image.shape).toEqual([128, 128, 128]);
    expect(count(p.label!, (x) => x === 1)).toBe(LIVER_VOXELS);
    const [r] = run([
      new ScaleIntensityRanged({ keys: ['image'], aMin: -300, aMax: 300, bMin: 0, bMax: 1, clip: true }),
      new Resized({ keys: ['image', 'label'], size: [64, 64, 64] }),
    ]);
    expect(r.image.shape).toEqual([64, 64, 64]);
    expect(r.image.data).toBeInstanceOf(Float32Array);
    const [lo, hi] = range(r.image);
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    expect(labelValues(r.label!)).toEqual([0, 1]);
    const expected = (LIVER_VOXELS * 64 ** 3) / (122 * 101 * 30);
    expect(count(r.label!, (x) => x === 1) / expected).toBeGreaterThan(0.9);
    expect(count(r.label!, (x) => x === 1) / expected).toBeLessThan(1.1);
  });

  test('RandCropByPosNegLabel crops, half of them centred on liver', () => {
    const crops = run(new RandCropByPosNegLabeld({ keys: ['image', 'label'], size: [48, 48, 16], numSamples: 200 }), raw, 3);
    expect(crops).toHaveLength(200);
    let centredOnLiver = 0;
    for (const c of crops) {
      expect(c.image.shape).toEqual([48, 48, 16]);
      if (c.label!.data[24 + 48 * (24 + 48 * 8)] === 1) centredOnLiver++;
    }
    // Clamping at the edges moves some centres, so only roughly half.
    expect(centredOnLiver).toBeGreaterThan(70);
    expect(centredOnLiver).toBeLessThan(140);
  });

  test('random spatial and intensity augmentations keep shapes, ranges and binary labels', () => {
    const chain: Transform[] = [
      new ScaleIntensityRanged({ keys: ['image'], aMin: -300, aMax: 300, bMin: 0, bMax: 1, clip: true }),
      new RandFlipd({ keys: ['image', 'label'], prob: 1, spatialAxis: [0, 1, 2] }),
      new RandRotate90d({ keys: ['image', 'label'], prob: 1, spatialAxes: [0, 1] }),
      new RandAffined({ keys: ['image', 'label'], prob: 1, rotateRange: [0.1, 0.1, 0.3], scaleRange: 0.1 }),
      new RandGaussianNoised({ keys: ['image'], prob: 1, std: 0.02 }),
      new RandScaleIntensityd({ keys: ['image'], prob: 1, factors: 0.1 }),
      new RandShiftIntensityd({ keys: ['image'], prob: 1, offsets: 0.1 }),
    ];
    for (const seed of [1, 2, 3]) {
      const [s] = run(chain, raw, seed);
      expect([...s.image.shape].sort()).toEqual([...raw.image.shape].sort());
      expect(s.label!.shape).toEqual(s.image.shape);
      expect(labelValues(s.label!).every((v) => v === 0 || v === 1)).toBe(true);
      const liver = count(s.label!, (x) => x === 1);
      expect(liver / LIVER_VOXELS).toBeGreaterThan(0.6);
      expect(liver / LIVER_VOXELS).toBeLessThan(1.4);
      const [lo, hi] = range(s.image);
      expect(lo).toBeGreaterThan(-0.5);
      expect(hi).toBeLessThan(1.6);
      expect(s.image.data.every(Number.isFinite)).toBe(true);
    }
  });

  test('the training chain through CacheDataset and DataLoader', async () => {
    const ds = new CacheDataset(cases, [
      new EnsureBinaryLabeld({ keys: ['label'] }),
      new ScaleIntensityRanged({ keys: ['image'], aMin: -300, aMax: 300, bMin: 0, bMax: 1, clip: true }),
      new SpatialPadd({ keys: ['image', 'label'], size: [64, 64, 32] }),
      new RandCropByPosNegLabeld({ keys: ['image', 'label'], size: [64, 64, 32], numSamples: 4 }),
      new RandFlipd({ keys: ['image', 'label'], prob: 0.5, spatialAxis: 0 }),
    ]);
    const loader = new DataLoader(ds, { batchSize: 1, seed: 1 });
    const batches = [];
    for await (const b of loader.epoch(0)) batches.push(b);
    expect(batches).toHaveLength(1);
    expect(batches[0].shape).toEqual([4, 64, 64, 32]);
    expect(batches[0].label).toBeInstanceOf(Uint8Array);
    expect(batches[0].label!.some((v) => v === 1)).toBe(true);
    expect(batches[0].items.every((i) => i.name === 'ct_sample')).toBe(true);
    // float32 image + uint8 label, padded from 30 to 32 slices.
    expect(ds.cacheBytes).toBe(122 * 101 * 32 * (4 + 1));
  });
});
