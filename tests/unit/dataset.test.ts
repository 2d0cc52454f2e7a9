import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveVolume } from '../../src/ts/io';
import { CacheDataset, Dataset, loadMsdDataset, splitCases } from '../../src/ts/data';
import { isShared } from '../../src/ts/data/shared';
import type { CacheProgress, CaseRecord } from '../../src/ts/data';
import { RandFlipd, ScaleIntensityRanged } from '../../src/ts/transforms';
import type { Sample, Transform } from '../../src/ts/transforms';
import { LiversegError } from '../../src/ts/errors';
import { Rng } from '../../src/ts/util/rng';
import type { Vec3, Volume } from '../../src/ts/volume';
import { vol } from '../helpers/volumes';

let dir: string;

function ct(shape: Vec3, seed: number, origin: Vec3 = [0, 0, 0]): Volume<Int16Array> {
  const d = new Int16Array(shape[0] * shape[1] * shape[2]).map((_, n) => ((n * 37 + seed * 11) % 600) - 300);
  return vol(d, shape, { spacing: [0.8, 0.8, 2], origin });
}
function mask(shape: Vec3, origin: Vec3 = [0, 0, 0]): Volume<Uint8Array> {
  const d = new Uint8Array(shape[0] * shape[1] * shape[2]).map((_, n) => (n % 5 === 0 ? 1 : 0));
  return vol(d, shape, { spacing: [0.8, 0.8, 2], origin });
}

async function writeCase(root: string, name: string, image: Volume, label: Volume): Promise<void> {
  await saveVolume(path.join(root, 'imagesTr', `${name}.nii.gz`), image, { fsync: false });
  await saveVolume(path.join(root, 'labelsTr', `${name}.nii.gz`), label, { fsync: false });
}

function writeJson(root: string, training: unknown[], extra: Record<string, unknown> = {}): void {
  fs.writeFileSync(
    path.join(root, 'dataset.json'),
    JSON.stringify({ name: 'test', labels: { '0': 'background', '1': 'liver', '2': 'cancer' }, modality: { '0': 'CT' }, training, test: [], ...extra }),
  );
}

/** Counts its calls; random or not as asked. */
class Counter implements Transform {
  readonly name = 'Counter';
  calls = 0;
  constructor(readonly random: boolean) {}
  apply(s: Sample): Sample {
    this.calls++;
    return s;
  }
  toSpec() {
    return { name: this.name, args: {} };
  }
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'liverseg-dataset-'));
  fs.mkdirSync(path.join(dir, 'imagesTr'));
  fs.mkdirSync(path.join(dir, 'labelsTr'));
  for (let n = 0; n < 4; n++) await writeCase(dir, `case_${n}`, ct([6, 5, 4], n), mask([6, 5, 4]));
  writeJson(
    dir,
    [0, 1, 2, 3].map((n) => ({ image: n % 2 ? `imagesTr/case_${n}.nii.gz` : `./imagesTr/case_${n}.nii.gz`, label: `./labelsTr/case_${n}.nii.gz` })),
  );
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('loadMsdDataset', () => {
  test('resolves paths relative to dataset.json and reads labels', async () => {
    const ds = await loadMsdDataset(dir);
    expect(ds.root).toBe(path.resolve(dir));
    expect(ds.training.map((c) => c.name)).toEqual(['case_0', 'case_1', 'case_2', 'case_3']);
    expect(ds.training[1].image).toBe(path.join(dir, 'imagesTr', 'case_1.nii.gz'));
    expect(ds.training[0].label).toBe(path.join(dir, 'labelsTr', 'case_0.nii.gz'));
    expect(ds.labels['1']).toBe('liver');
    expect(ds.modality['0']).toBe('CT');
    // The dataset.json path itself works too, from any working directory.
    const again = await loadMsdDataset(path.relative(process.cwd(), path.join(dir, 'dataset.json')));
    expect(again.training).toEqual(ds.training);
  });

  test('a missing file is ERR_DATASET naming it', async () => {
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'liverseg-missing-'));
    try {
      fs.mkdirSync(path.join(other, 'imagesTr'));
      fs.mkdirSync(path.join(other, 'labelsTr'));
      await writeCase(other, 'a', ct([4, 4, 4], 0), mask([4, 4, 4]));
      writeJson(other, [
        { image: './imagesTr/a.nii.gz', label: './labelsTr/a.nii.gz' },
        { image: './imagesTr/b.nii.gz', label: './labelsTr/b.nii.gz' },
      ]);
      const err = await loadMsdDataset(other).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LiversegError);
      expect((err as LiversegError).code).toBe('ERR_DATASET');
      expect((err as LiversegError).path).toBe(path.join(other, 'imagesTr', 'b.nii.gz'));
      expect((err as Error).message).toContain(path.join(other, 'imagesTr', 'b.nii.gz'));
      expect((err as Error).message).toMatch(/training\[1\]\.image.*and 1 more/);
      expect((await loadMsdDataset(other, { checkFiles: false })).training).toHaveLength(2);
      fs.writeFileSync(path.join(other, 'dataset.json'), '{ "training": [');
      await expect(loadMsdDataset(other)).rejects.toMatchObject({ code: 'ERR_DATASET', message: expect.stringMatching(/not valid JSON/) });
      await expect(loadMsdDataset(path.join(other, 'nowhere'))).rejects.toMatchObject({ code: 'ERR_DATASET' });
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });
});

describe('splitCases', () => {
  const cases = Array.from({ length: 131 }, (_, i) => ({ name: `liver_${i}` }));

  test('valRatio: deterministic, disjoint, complete, independent of list order', () => {
    const a = splitCases(cases, { valRatio: 0.2, seed: 1 });
    const b = splitCases(cases, { valRatio: 0.2, seed: 1 });
    const c = splitCases(cases, { valRatio: 0.2, seed: 2 });
    const shuffled = splitCases(new Rng(5).shuffle([...cases]), { valRatio: 0.2, seed: 1 });
    expect(a.val).toHaveLength(26);
    expect(a.train).toHaveLength(105);
    expect(b).toEqual(a);
    expect(c.val).not.toEqual(a.val);
    expect(new Set(shuffled.val.map((x) => x.name))).toEqual(new Set(a.val.map((x) => x.name)));
    const names = new Set([...a.train, ...a.val].map((x) => x.name));
    expect(names.size).toBe(131);
    expect(a.train.filter((x) => a.val.includes(x))).toHaveLength(0);
    expect(splitCases(cases.slice(0, 3), { valRatio: 0.01 }).val).toHaveLength(1);
  });

  test('explicit validation names', () => {
    const s = splitCases(cases, { val: ['liver_3', 'liver_100'] });
    expect(s.val.map((x) => x.name)).toEqual(['liver_3', 'liver_100']);
    expect(s.train).toHaveLength(129);
    expect(() => splitCases(cases, { val: ['liver_999'] })).toThrow(/no case named 'liver_999'/);
  });

  test('k folds partition the cases, sizes differ by at most one', () => {
    const seen = new Map<string, number>();
    const sizes: number[] = [];
    for (let f = 0; f < 5; f++) {
      const s = splitCases(cases, { folds: 5, fold: f, seed: 12345 });
      sizes.push(s.val.length);
      expect(s.train.length + s.val.length).toBe(131);
      for (const c of s.val) seen.set(c.name, (seen.get(c.name) ?? 0) + 1);
    }
    expect(seen.size).toBe(131);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect(sizes).toEqual([27, 26, 26, 26, 26]);
    expect(() => splitCases(cases, { folds: 5, fold: 5 })).toThrow(/fold/);
    expect(() => splitCases([{ name: 'a' }, { name: 'a' }], { valRatio: 0.5 })).toThrow(/twice/);
  });
});

describe('Dataset and CacheDataset', () => {
  let cases: CaseRecord[];
  beforeAll(async () => {
    cases = (await loadMsdDataset(dir)).training;
  });

  test('Dataset loads and transforms on every access', async () => {
    const counter = new Counter(false);
    const ds = new Dataset(cases, [counter, new ScaleIntensityRanged({ keys: ['image'], aMin: -300, aMax: 300, bMin: 0, bMax: 1, clip: true })]);
    expect(ds.length).toBe(4);
    const s = (await ds.get(2)) as Sample;
    await ds.get(2);
    expect(counter.calls).toBe(2);
    expect(s.name).toBe('case_2');
    expect(s.imagePath).toBe(cases[2].image);
    expect(s.image.data).toBeInstanceOf(Float32Array);
    expect(s.image.data[0]).toBeCloseTo(((22 % 600) - 300 + 300) / 600, 5);
    expect(s.label!.data).toBeInstanceOf(Uint8Array);
    await expect(ds.get(4)).rejects.toThrow(/index/);
  });

  test('CacheDataset runs the transforms before the first random one exactly once per cached case', async () => {
    const head = new Counter(false);
    const rand = new RandFlipd({ keys: ['image', 'label'], prob: 0.5 });
    const after = new Counter(false);
    const progress: CacheProgress[] = [];
    const ds = new CacheDataset(cases, [head, rand, after], { onProgress: (p) => progress.push(p) });
    await ds.init();
    expect(head.calls).toBe(4);
    expect(after.calls).toBe(0);
    for (let round = 0; round < 3; round++) for (let i = 0; i < 4; i++) await ds.get(i, new Rng(round * 10 + i));
    expect(head.calls).toBe(4);
    expect(after.calls).toBe(12);
    expect(progress.map((p) => p.done)).toEqual([1, 2, 3, 4]);
    expect(progress[3].total).toBe(4);
    expect(progress[3].bytes).toBe(ds.cacheBytes);
    // Image int16 + label uint8, 6x5x4 each, in shared memory.
    expect(ds.cacheBytes).toBe(4 * (120 * 2 + 120));
    const cached = ds.cached(0) as Sample;
    expect(isShared(cached.image.data)).toBe(true);
    expect(isShared(cached.label!.data)).toBe(true);
    // The random tail sees the cache; same seed, same result.
    const a = (await ds.get(1, new Rng(7))) as Sample;
    const b = (await ds.get(1, new Rng(7))) as Sample;
    expect(Array.from(a.image.data)).toEqual(Array.from(b.image.data));
  });

  test('cacheRate caches the first floor(n * rate) cases; the rest load on access', async () => {
    const head = new Counter(false);
    const ds = new CacheDataset(cases, [head, new Counter(true)], { cacheRate: 0.5 });
    expect(ds.cacheCount).toBe(2);
    await ds.init();
    expect(head.calls).toBe(2);
    expect(ds.isCached(1)).toBe(true);
    expect(ds.isCached(2)).toBe(false);
    await ds.get(3);
    await ds.get(3);
    await ds.get(0);
    expect(head.calls).toBe(4);
    expect(ds.cacheBytes).toBe(2 * 360);
    expect(new CacheDataset(cases, [], { cacheRate: 0 }).cacheCount).toBe(0);
    expect(() => new CacheDataset(cases, [], { cacheRate: 2 })).toThrow(/cacheRate/);
  });

  test('image/label disagreement is ERR_GEOMETRY_MISMATCH naming both files', async () => {
    const bad = fs.mkdtempSync(path.join(os.tmpdir(), 'liverseg-geom-'));
    try {
      fs.mkdirSync(path.join(bad, 'imagesTr'));
      fs.mkdirSync(path.join(bad, 'labelsTr'));
      await writeCase(bad, 'shape', ct([6, 5, 4], 0), mask([6, 5, 3]));
      await writeCase(bad, 'origin', ct([6, 5, 4], 0), mask([6, 5, 4], [0, 0, 10]));
      writeJson(
        bad,
        ['shape', 'origin'].map((n) => ({ image: `./imagesTr/${n}.nii.gz`, label: `./labelsTr/${n}.nii.gz` })),
      );
      const msd = await loadMsdDataset(bad);
      const ds = new Dataset(msd.training);
      for (let i = 0; i < 2; i++) {
        const err = (await ds.get(i).catch((e: unknown) => e)) as LiversegError;
        expect(err).toBeInstanceOf(LiversegError);
        expect(err.code).toBe('ERR_GEOMETRY_MISMATCH');
        expect(err.message).toContain(msd.training[i].image as string);
        expect(err.message).toContain(msd.training[i].label as string);
      }
      expect(((await ds.get(0).catch((e: unknown) => e)) as Error).message).toMatch(/6x5x4.*6x5x3/);
      const cache = new CacheDataset(msd.training, []);
      await expect(cache.init()).rejects.toMatchObject({ code: 'ERR_GEOMETRY_MISMATCH' });
    } finally {
      fs.rmSync(bad, { recursive: true, force: true });
    }
  });

  test('cases can hold in-memory volumes', async () => {
    const ds = new Dataset([{ name: 'mem', image: ct([3, 3, 3], 1), label: mask([3, 3, 3]) }]);
    const s = (await ds.get(0)) as Sample;
    expect(s.name).toBe('mem');
    expect(s.imagePath).toBeUndefined();
    await expect(new Dataset([{ name: 'm', image: ct([3, 3, 3], 1), label: mask([3, 3, 2]) }]).get(0)).rejects.toMatchObject({
      code: 'ERR_GEOMETRY_MISMATCH',
      message: expect.stringContaining('m (in-memory label)'),
    });
  });
});
