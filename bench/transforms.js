#!/usr/bin/env node
/**
 * Transform and data-pipeline timings on a full-size synthetic CT (makePhantom, 512x512x200 int16).
 *
 * Build first (`npx tsc -p .`), then: `node bench/transforms.js [--size 512,512,200] [--runs 5] [--workers 2]`.
 *
 * Measures wall and CPU time (median of --runs after one warm-up run):
 *   phantom        makePhantom at the full size
 *   coarse prep    Resize (area) to 128^3 + ScaleIntensityRange, both orders
 *   one-stage aug  per-volume time of the training chain's random tail (4 crops of 128^3:
 *                  RandCropByPosNegLabel, RandFlip, RandRotate90, RandAffine, RandGaussianNoise,
 *                  RandScaleIntensity, RandShiftIntensity) on a cached sample, plus collation
 *   coarse aug     the same random tail without the crop on a cached 128^3 sample
 *   loader         DataLoader epoch throughput, inline and with worker threads
 *
 * Prints one JSON line per measurement and a small table at the end. liverseg is used through its
 * public entry point, require('..'), only.
 */
'use strict';
const liverseg = require('..');
const { makePhantom, CacheDataset, DataLoader, Rng } = liverseg;
const T = liverseg;

/**
 * What the DataLoader's collation does to a batch's samples (the package does not export it): the
 * images into one float32 buffer, the labels into one uint8 buffer (float32 when any label is
 * floating point), sample after sample, and each sample's geometry copied.
 */
function collate(samples) {
  const [ni, nj, nk] = samples[0].image.shape;
  const per = ni * nj * nk;
  const image = new Float32Array(samples.length * per);
  const floatLabel = samples.some((s) => s.label && (s.label.data instanceof Float32Array || s.label.data instanceof Float64Array));
  const label = samples[0].label ? new (floatLabel ? Float32Array : Uint8Array)(samples.length * per) : undefined;
  const items = samples.map((s, i) => {
    image.set(s.image.data, i * per);
    if (label) label.set(s.label.data, i * per);
    return { spacing: [...s.image.spacing], affine: s.image.affine.map((r) => [...r]) };
  });
  return { image, label, shape: [samples.length, ni, nj, nk], items };
}

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}
const SIZE = arg('size', '512,512,200').split(',').map(Number);
const RUNS = Number(arg('runs', '5'));
const WORKERS = Number(arg('workers', '2'));

const rows = [];
function report(name, t, extra = {}) {
  const line = { name, ms: +t.wall.toFixed(1), cpuMs: +t.cpu.toFixed(1), ...extra };
  rows.push(line);
  console.log(JSON.stringify(line));
}

// Wall and CPU time (all threads of the process) of one call. The CPU figure is the steadier one
// on a shared machine; with worker threads it adds up the workers' time as well.
function measure0() {
  return { t: process.hrtime.bigint(), c: process.cpuUsage() };
}
function measure1(m) {
  const c = process.cpuUsage(m.c);
  return { wall: Number(process.hrtime.bigint() - m.t) / 1e6, cpu: (c.user + c.system) / 1000 };
}
function median(list) {
  const by = (k) => list.map((x) => x[k]).sort((a, b) => a - b)[Math.floor(list.length / 2)];
  return { wall: by('wall'), cpu: by('cpu') };
}

/** Median wall and CPU time of `runs` calls after one warm-up call. */
function time(f, runs = RUNS) {
  f(-1);
  const t = [];
  for (let r = 0; r < runs; r++) {
    const m = measure0();
    f(r);
    t.push(measure1(m));
  }
  return median(t);
}

async function timeAsync(f, runs = RUNS) {
  await f(-1);
  const t = [];
  for (let r = 0; r < runs; r++) {
    const m = measure0();
    await f(r);
    t.push(measure1(m));
  }
  return median(t);
}

const window = { aMin: -300, aMax: 300, bMin: 0, bMax: 1, clip: true };

function randomTail(crop) {
  const list = [];
  if (crop) list.push(new T.RandCropByPosNegLabeld({ keys: ['image', 'label'], size: [128, 128, 128], numSamples: 4 }));
  list.push(
    new T.RandFlipd({ keys: ['image', 'label'], prob: 0.5, spatialAxis: [0] }),
    new T.RandRotate90d({ keys: ['image', 'label'], prob: 0.5, spatialAxes: [0, 1] }),
    new T.RandAffined({ keys: ['image', 'label'], prob: 0.5, rotateRange: [0, 0, 0.26], scaleRange: 0.1 }),
    new T.RandGaussianNoised({ keys: ['image'], prob: 0.5, std: 0.05 }),
    new T.RandScaleIntensityd({ keys: ['image'], prob: 0.5, factors: 0.1 }),
    new T.RandShiftIntensityd({ keys: ['image'], prob: 0.5, offsets: 0.1 }),
  );
  return list;
}

async function main() {
  console.log(JSON.stringify({ machine: { node: process.version, cpus: require('node:os').cpus().length, size: SIZE, runs: RUNS } }));
  let p;
  report(
    `makePhantom ${SIZE.join('x')}`,
    time(() => (p = makePhantom({ shape: SIZE, seed: 1 })), Math.min(RUNS, 3)),
  );
  const sample = { image: p.image, label: p.label, name: 'phantom' };

  const resize = new T.Resized({ keys: ['image', 'label'], size: [128, 128, 128] });
  const scale = new T.ScaleIntensityRanged({ keys: ['image'], ...window });
  report(
    'Resize(area) int16 -> 128^3, then ScaleIntensityRange',
    time(() => scale.apply(resize.apply(sample))),
  );
  report(
    'ScaleIntensityRange, then Resize(area) -> 128^3',
    time(() => resize.apply(scale.apply(sample))),
  );
  report(
    '  Resize(area) image only',
    time(() => T.resize(p.image, { size: [128, 128, 128], mode: 'area' })),
  );
  report(
    '  Resize(nearest) label only',
    time(() => T.resize(p.label, { size: [128, 128, 128], mode: 'nearest' })),
  );
  report(
    '  ScaleIntensityRange full volume',
    time(() => T.scaleIntensityRange(p.image, window)),
  );

  // One-stage training: the deterministic head cached once, the random tail per sample.
  const head = [
    new T.EnsureBinaryLabeld({ keys: ['label'] }),
    new T.ScaleIntensityRanged({ keys: ['image'], ...window }),
    new T.SpatialPadd({ keys: ['image', 'label'], size: [128, 128, 128] }),
  ];
  const oneStage = new CacheDataset([{ name: 'phantom', image: p.image, label: p.label }], [...head, ...randomTail(true)]);
  let m = measure0();
  await oneStage.init();
  report('one-stage cache (head, once per volume)', measure1(m), { cacheMiB: +(oneStage.cacheBytes / 2 ** 20).toFixed(0) });
  // The first tail call also builds the crop's foreground index lists (memoised per volume).
  m = measure0();
  await oneStage.getSamples(0, new Rng(0));
  report('one-stage first tail call (includes index lists)', measure1(m));
  let seed = 1;
  report(
    'one-stage tail per volume (4 crops of 128^3) + collate',
    await timeAsync(async () => collate(await oneStage.getSamples(0, new Rng(seed++))), RUNS * 2),
  );

  // Coarse model: whole volume resized to 128^3 and cached; flips/affine/intensity per sample.
  const coarse = new CacheDataset(
    [{ name: 'phantom', image: p.image, label: p.label }],
    [
      new T.EnsureBinaryLabeld({ keys: ['label'] }),
      new T.ScaleIntensityRanged({ keys: ['image'], ...window }),
      new T.Resized({ keys: ['image', 'label'], size: [128, 128, 128] }),
      ...randomTail(false),
    ],
  );
  await coarse.init();
  report('coarse tail per volume (128^3) + collate', await timeAsync(async () => collate(await coarse.getSamples(0, new Rng(seed++))), RUNS * 2));

  // Loader throughput: 4 cached copies of the one-stage head, one epoch per timing.
  const cases = Array.from({ length: 4 }, (_, n) => ({ name: `p${n}`, image: p.image, label: p.label }));
  const ds = new CacheDataset(cases, [...head, ...randomTail(true)]);
  await ds.init();
  for (const numWorkers of [0, WORKERS]) {
    const loader = new DataLoader(ds, { batchSize: 1, shuffle: true, seed: 1, numWorkers });
    const run = async (e) => {
      for await (const b of loader.epoch(e + 1)) void b;
    };
    await run(-1); // warm-up epoch: workers start, receive the shared samples and build index lists
    const t = await timeAsync(run, 2);
    report(`DataLoader epoch, 4 volumes x 4 crops, ${loader.mode}${numWorkers ? ` (${numWorkers} workers)` : ''}`, t, {
      perVolumeMs: +(t.wall / 4).toFixed(1),
    });
    await loader.close();
  }

  console.log('\n     wall        cpu');
  console.log(
    rows
      .map(
        (r) =>
          `${r.ms.toFixed(1).padStart(9)} ${r.cpuMs.toFixed(1).padStart(10)} ms  ${r.name}${r.perVolumeMs ? `  (${r.perVolumeMs} ms/volume)` : ''}${r.cacheMiB ? `  (${r.cacheMiB} MiB cached)` : ''}`,
      )
      .join('\n'),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
