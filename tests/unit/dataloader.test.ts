import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CacheDataset, DataLoader, Dataset, loadMsdDataset, writePhantomDataset } from '../../src/ts/data';
import { findWorkerScript } from '../../src/ts/data/loader';
import type { Batch, CaseRecord } from '../../src/ts/data';
import {
  EnsureBinaryLabeld,
  RandAffined,
  RandCropByPosNegLabeld,
  RandFlipd,
  RandGaussianNoised,
  ScaleIntensityRanged,
  SpatialPadd,
} from '../../src/ts/transforms';
import type { Transform } from '../../src/ts/transforms';
import { LiversegError } from '../../src/ts/errors';
import type { Vec3 } from '../../src/ts/volume';
import { indexVolume, vol } from '../helpers/volumes';

const root = path.resolve(__dirname, '..', '..');

/** Worker mode runs the compiled lib/; rebuild it when any source is newer than the worker script. */
function ensureBuilt(): string | undefined {
  const worker = path.join(root, 'lib', 'data', 'loader-worker.js');
  const newest = (dir: string): number =>
    fs.readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
      const p = path.join(dir, e.name);
      return Math.max(m, e.isDirectory() ? newest(p) : e.name.endsWith('.ts') ? fs.statSync(p).mtimeMs : 0);
    }, 0);
  if (!fs.existsSync(worker) || fs.statSync(worker).mtimeMs < newest(path.join(root, 'src', 'ts'))) {
    try {
      execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', root], { stdio: 'pipe' });
    } catch {
      // Type errors elsewhere in the tree still emit JavaScript; what matters is the worker file.
    }
  }
  return fs.existsSync(worker) ? worker : undefined;
}

function memCases(n: number, shape: Vec3): CaseRecord[] {
  return Array.from({ length: n }, (_, c) => {
    const image = indexVolume(shape, { spacing: [1, 1, 2], origin: [c, 0, 0] });
    const lab = new Uint8Array(image.data.length);
    // A foreground block in a different place per case.
    for (let k = 2; k < 6; k++) for (let j = 3 + c; j < 9 + c; j++) for (let i = 4; i < 10; i++) lab[i + shape[0] * (j + shape[1] * k)] = c === 1 ? 2 : 1;
    return { name: `mem_${c}`, image, label: vol(lab, shape, { spacing: [1, 1, 2], origin: [c, 0, 0] }) };
  });
}

const cropChain = (): Transform[] => [
  new EnsureBinaryLabeld({ keys: ['label'] }),
  new RandCropByPosNegLabeld({ keys: ['image', 'label'], size: [8, 8, 4], numSamples: 2 }),
  new RandFlipd({ keys: ['image', 'label'], prob: 0.5, spatialAxis: 0 }),
];

async function collect(it: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

function same(a: Batch[], b: Batch[]): void {
  expect(b.length).toBe(a.length);
  a.forEach((x, n) => {
    expect(b[n].shape).toEqual(x.shape);
    expect(b[n].items.map((i) => i.caseIndex)).toEqual(x.items.map((i) => i.caseIndex));
    expect(Buffer.from(b[n].image.buffer).equals(Buffer.from(x.image.buffer))).toBe(true);
    expect(Buffer.from(b[n].label!.buffer).equals(Buffer.from(x.label!.buffer))).toBe(true);
  });
}

describe('DataLoader, inline', () => {
  const shape: Vec3 = [16, 16, 8];
  const cases = memCases(3, shape);

  test('collates every crop of batchSize volumes into one contiguous batch', async () => {
    const ds = new CacheDataset(cases, cropChain());
    const loader = new DataLoader(ds, { batchSize: 2, seed: 3 });
    expect(loader.mode).toBe('inline');
    expect(loader.length).toBe(2);
    const batches = await collect(loader.epoch(0));
    expect(batches.map((b) => b.shape)).toEqual([
      [4, 8, 8, 4],
      [2, 8, 8, 4],
    ]);
    const b = batches[0];
    expect(b.image).toBeInstanceOf(Float32Array);
    expect(b.image.length).toBe(4 * 256);
    expect(b.label).toBeInstanceOf(Uint8Array);
    expect(b.items.map((i) => i.caseIndex)).toEqual([0, 0, 1, 1]);
    expect(b.items[0].name).toBe('mem_0');
    expect(b.items[0].affine).toHaveLength(4);
    // Each sample's slice is a crop of its case: consecutive values along i (or reversed, if flipped).
    for (let s = 0; s < 4; s++) {
      const img = b.image.subarray(s * 256, (s + 1) * 256);
      const step = img[1] - img[0];
      expect(Math.abs(step)).toBe(1);
      const lab = b.label!.subarray(s * 256, (s + 1) * 256);
      expect(lab.every((v) => v === 0 || v === 1)).toBe(true);
    }
    expect(new DataLoader(ds, { batchSize: 2, dropLast: true }).length).toBe(1);
  });

  test('the same seed gives the same batches; epochs differ; shuffling covers every case', async () => {
    const ds = new CacheDataset(cases, cropChain());
    const a = new DataLoader(ds, { batchSize: 1, shuffle: true, seed: 5 });
    const b = new DataLoader(ds, { batchSize: 1, shuffle: true, seed: 5 });
    const a0 = await collect(a.epoch(0));
    same(a0, await collect(b.epoch(0)));
    same(await collect(a.epoch(4)), await collect(b.epoch(4)));
    for (let e = 0; e < 6; e++) expect([...a.order(e)].sort()).toEqual([0, 1, 2]);
    const orders = new Set(Array.from({ length: 12 }, (_, e) => a.order(e).join()));
    expect(orders.size).toBeGreaterThan(2);
    const a1 = await collect(a.epoch(1));
    expect(a1.map((x) => Array.from(x.image.slice(0, 8)))).not.toEqual(a0.map((x) => Array.from(x.image.slice(0, 8))));
    const other = await collect(new DataLoader(ds, { batchSize: 1, shuffle: true, seed: 6 }).epoch(0));
    expect(other.map((x) => Array.from(x.image.slice(0, 8)))).not.toEqual(a0.map((x) => Array.from(x.image.slice(0, 8))));
  });

  test('an epoch resumes at any batch with the same results', async () => {
    const ds = new CacheDataset(cases, cropChain());
    const loader = new DataLoader(ds, { batchSize: 1, shuffle: true, seed: 9 });
    const full = await collect(loader.epoch(2));
    same(full.slice(1), await collect(loader.epoch(2, { startBatch: 1 })));
    // for-await over the loader itself walks epochs 0, 1, ...
    same(await collect(loader), await collect(loader.epoch(0)));
    same(await collect(loader), await collect(loader.epoch(1)));
  });

  test('shape disagreement inside a batch is ERR_SHAPE_MISMATCH', async () => {
    const mixed: CaseRecord[] = [memCases(1, [16, 16, 8])[0], memCases(1, [12, 16, 8])[0]];
    const loader = new DataLoader(new Dataset(mixed, [new EnsureBinaryLabeld({ keys: ['label'] })]), { batchSize: 2 });
    await expect(collect(loader.epoch(0))).rejects.toMatchObject({ code: 'ERR_SHAPE_MISMATCH' });
  });
});

describe('DataLoader, worker threads', () => {
  let worker: string | undefined;
  let dir: string;
  let fileCases: CaseRecord[];

  beforeAll(async () => {
    worker = ensureBuilt();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'liverseg-loader-'));
    await writePhantomDataset(dir, { count: 4, shape: [40, 40, 24], seed: 2 });
    fileCases = (await loadMsdDataset(dir)).training;
  }, 180000);

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const phantomChain = (): Transform[] => [
    new EnsureBinaryLabeld({ keys: ['label'] }),
    new ScaleIntensityRanged({ keys: ['image'], aMin: -300, aMax: 300, bMin: 0, bMax: 1, clip: true }),
    new SpatialPadd({ keys: ['image', 'label'], size: [24, 24, 16] }),
    new RandCropByPosNegLabeld({ keys: ['image', 'label'], size: [24, 24, 16], numSamples: 3 }),
    new RandFlipd({ keys: ['image', 'label'], prob: 0.5, spatialAxis: [0, 1] }),
    new RandAffined({ keys: ['image', 'label'], prob: 0.5, rotateRange: [0, 0, 0.3], scaleRange: 0.1 }),
    new RandGaussianNoised({ keys: ['image'], prob: 0.5, std: 0.05 }),
  ];

  test('the compiled worker script is found (lib/ is built before this suite)', () => {
    expect(worker).toBeDefined();
    expect(findWorkerScript()).toBe(worker);
  });

  test('workers give exactly the inline batches: cached, file-loaded and in-memory items', async () => {
    if (!worker) return; // reported by the test above
    // cacheRate 0.5: two cases come from the shared cache, two are loaded from files by the workers.
    const ds = new CacheDataset(fileCases, phantomChain(), { cacheRate: 0.5 });
    const inline = new DataLoader(ds, { batchSize: 2, shuffle: true, seed: 11 });
    const threaded = new DataLoader(ds, { batchSize: 2, shuffle: true, seed: 11, numWorkers: 2 });
    expect(threaded.mode).toBe('workers');
    try {
      for (const e of [0, 1, 2]) {
        const w = await collect(threaded.epoch(e));
        expect(w[0].shape).toEqual([6, 24, 24, 16]);
        expect(w[0].image.buffer).toBeInstanceOf(ArrayBuffer); // transferred, not shared
        same(await collect(inline.epoch(e)), w);
      }
      // In-memory cases without a cache are loaded here and sent to the workers.
      const mem = new Dataset(memCases(3, [16, 16, 8]), cropChain());
      const mi = await collect(new DataLoader(mem, { seed: 1, shuffle: true }).epoch(3));
      const mwLoader = new DataLoader(mem, { seed: 1, shuffle: true, numWorkers: 2 });
      try {
        same(mi, await collect(mwLoader.epoch(3)));
      } finally {
        await mwLoader.close();
      }
    } finally {
      await threaded.close();
    }
  });

  test('an error inside a worker rejects the epoch with the same error code', async () => {
    if (!worker) return;
    const ds = new CacheDataset(fileCases, [new RandCropByPosNegLabeld({ keys: ['image', 'label'], size: [64, 64, 64] })]);
    const loader = new DataLoader(ds, { numWorkers: 1 });
    try {
      const err = await collect(loader.epoch(0)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LiversegError);
      expect((err as LiversegError).code).toBe('ERR_INVALID_ARG');
      expect((err as Error).message).toMatch(/pad first/);
    } finally {
      await loader.close();
    }
  });

  test('transforms that cannot be described for workers are refused up front', () => {
    const odd: Transform = {
      name: 'Odd',
      random: true,
      apply: (s) => s,
      toSpec: () => {
        throw new Error('no spec');
      },
    };
    expect(() => new DataLoader(new Dataset(memCases(1, [8, 8, 8]), [odd]), { numWorkers: 1 })).toThrow(/cannot be described/);
  });
});
