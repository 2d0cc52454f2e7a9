#!/usr/bin/env node
/**
 * One benchmark case on the liverseg side, in its own process; prints one JSON line in the same
 * shape as bench/peer/bench_peer.py, so bench/run.js can put the two side by side.
 *
 *   node bench/liverseg_case.js --case forward --size 128 --threads 2 --repeats 3 --warmup 1
 *
 * Cases:
 *   forward  ResUNet.forward on a [batch, 1, size, size, size] Float32Array (inference mode);
 *   train    ResUNet.trainStep: forward, sigmoid Dice loss, backward, optimizer step;
 *   nifti    loadVolume(--path) and conversion of its voxels to float32 (what the peer does with
 *            nibabel + np.asarray(dtype=float32));
 *   segment  segment() of a 512x512x<slices> phantom (bench/segment_case.js), per-stage times
 *            when the result carries them.
 *
 * liverseg is used only through its public entry point, require('..') (the package's main), as
 * an application would.
 *
 * peak_rss_mib is process.resourceUsage().maxRSS (Node, V8 and LibTorch included); base_rss_mib is
 * the resident size just before the first run.
 */
'use strict';
const path = require('path');

/** The package, through its public entry point only. Loading it does not load the addon. */
const liverseg = require('..');

function parseArgs(argv) {
  const a = {
    case: undefined,
    size: 128,
    batch: 1,
    device: 'cpu',
    amp: 'off',
    repeats: 3,
    warmup: 1,
    threads: 0,
    optimizer: 'novograd',
    lr: 1e-3,
    channels: '16,32,64,128,256',
    block: 'residual',
    seed: 0,
    path: undefined,
    slices: 200,
    'in-plane': 512,
    window: 128,
    tag: '',
  };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`unexpected argument '${argv[i]}'`);
    const key = m[1];
    if (!(key in a)) throw new Error(`unknown option --${key}`);
    const val = m[2] !== undefined ? m[2] : argv[++i];
    if (val === undefined) throw new Error(`--${key} needs a value`);
    a[key] = typeof a[key] === 'number' ? Number(val) : val;
  }
  if (!['forward', 'train', 'nifti', 'segment'].includes(a.case)) throw new Error('--case must be forward, train, nifti or segment');
  return a;
}

function median(xs) {
  const s = [...xs].sort((p, q) => p - q);
  const n = s.length;
  if (!n) return null;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

const r4 = (x) => (x == null ? null : Math.round(x * 1e4) / 1e4);
const r1 = (x) => (x == null ? null : Math.round(x * 10) / 10);

function rssMiB() {
  return process.memoryUsage.rss() / 2 ** 20;
}
function peakRssMiB() {
  return process.resourceUsage().maxRSS / 1024; // KiB
}

/** mulberry32: a small seeded generator, so both runs of a case see the same input. */
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomImages(n, seed) {
  const u = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    // Box-Muller: standard normal values, like torch.randn on the peer's side.
    const r = Math.sqrt(-2 * Math.log(u() || 1e-12));
    const t = 2 * Math.PI * u();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/** A centred ball of radius size/4, the same label as the peer's. */
function sphereLabel(size, batch) {
  const n = size ** 3;
  const out = new Uint8Array(n * batch);
  const c = (size - 1) / 2;
  const r2 = (size / 4) ** 2;
  for (let z = 0; z < size; z++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        if ((x - c) ** 2 + (y - c) ** 2 + (z - c) ** 2 <= r2) out[(z * size + y) * size + x] = 1;
      }
    }
  }
  for (let b = 1; b < batch; b++) out.copyWithin(b * n, 0, n);
  return out;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const result = {
    side: 'liverseg',
    case: a.case,
    size: a.case === 'forward' || a.case === 'train' ? a.size : null,
    batch: a.batch,
    device: a.device,
    amp: a.amp,
    threads: a.threads || null,
    tag: a.tag || null,
  };
  if (a.case !== 'nifti') {
    // The nifti case stays off the addon, as the peer's stays off torch: LibTorch alone is about
    // 150 MiB of resident memory that would blur the comparison.
    const { setNumThreads, backend } = liverseg;
    if (a.threads > 0) setNumThreads(a.threads);
    const be = backend();
    result.torch = be.torchVersion;
    result.threads = be.threads;
    result.mkldnn = be.mkldnn;
  }

  let step;
  let model;
  let extra = () => ({});
  let cleanup = async () => {};
  if (a.case === 'forward' || a.case === 'train') {
    const { ResUNet } = liverseg;
    const precision = a.amp === 'off' ? 'off' : a.amp;
    model = await ResUNet.create({
      channels: a.channels.split(',').map(Number),
      block: a.block,
      device: a.device,
      precision,
      seed: a.seed,
      optimizer: { name: a.optimizer, lr: a.lr },
    });
    result.params = model.parameterCount;
    result.device = model.device;
    const s = a.size;
    const images = { data: randomImages(a.batch * s ** 3, a.seed + 1), shape: [a.batch, 1, s, s, s] };
    if (a.case === 'forward') {
      step = async () => {
        const y = await model.forward(images);
        return y.shape;
      };
    } else {
      result.optimizer = a.optimizer;
      const labels = { data: sphereLabel(s, a.batch), shape: [a.batch, 1, s, s, s] };
      const losses = [];
      result.losses = losses;
      step = async () => {
        losses.push(await model.trainStep(images, labels));
        return null;
      };
    }
    if (model.device.startsWith('cuda')) {
      model.memoryStats(true);
      extra = () => ({ peak_gpu_mib: r1(model.memoryStats().peakAllocated / 2 ** 20) });
    }
  } else if (a.case === 'nifti') {
    if (!a.path) throw new Error('--case nifti needs --path');
    const io = liverseg;
    if (typeof io.loadVolume !== 'function') {
      result.skipped = 'loadVolume not available (the package exports no loadVolume)';
      console.log(JSON.stringify(result));
      return;
    }
    result.path = a.path;
    const toF32 = typeof io.toFloat32 === 'function' ? io.toFloat32 : (v) => ({ ...v, data: Float32Array.from(v.data) });
    const loadTimes = [];
    step = async () => {
      const t0 = performance.now();
      const v = await io.loadVolume(a.path);
      loadTimes.push((performance.now() - t0) / 1000);
      const f = toF32(v);
      return f.shape;
    };
    extra = () => ({ load_only_median_s: r4(median(loadTimes.slice(a.warmup))) });
  } else {
    const segMod = liverseg;
    const phantomMod = liverseg;
    if (typeof segMod.segment !== 'function') {
      result.skipped = 'segment not available (the package exports no segment)';
      console.log(JSON.stringify(result));
      return;
    }
    if (typeof phantomMod.makePhantom !== 'function') {
      result.skipped = 'makePhantom not available (the package exports no makePhantom)';
      console.log(JSON.stringify(result));
      return;
    }
    const n = a['in-plane'];
    result.shape = [n, n, a.slices];
    const seg = require(path.join(__dirname, 'segment_case.js'));
    const run = await seg.prepare(segMod.segment, phantomMod.makePhantom, a);
    result.model = run.description;
    await run.warm();
    const stages = [];
    step = async () => {
      const out = await run.once();
      stages.push(out.stages);
      return out.shape;
    };
    cleanup = run.cleanup;
    extra = () => ({ stages_s: seg.medianStages(stages.slice(a.warmup)), ...(run.info() || {}) });
  }

  result.base_rss_mib = r1(rssMiB());
  for (let i = 0; i < a.warmup; i++) await step();
  const times = [];
  let shape;
  for (let i = 0; i < a.repeats; i++) {
    const t0 = performance.now();
    shape = await step();
    times.push((performance.now() - t0) / 1000);
  }
  if (shape) result.output_shape = shape;
  if (result.losses) result.losses = result.losses.map((v) => Math.round(v * 1e6) / 1e6);
  Object.assign(result, {
    times_s: times.map(r4),
    median_s: r4(median(times)),
    min_s: r4(Math.min(...times)),
    max_s: r4(Math.max(...times)),
    peak_rss_mib: r1(peakRssMiB()),
    peak_gpu_mib: null,
    ...extra(),
  });
  if (model) await model.dispose();
  await cleanup();
  console.log(JSON.stringify(result));
}

main().catch((e) => {
  process.stderr.write(`liverseg_case: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
