#!/usr/bin/env node
/**
 * One measurement of liverseg's engines in its own process; prints one JSON line in the shape of
 * bench/liverseg_case.js (times_s, median_s, peak_rss_mib, ...).
 *
 *   node bench/onnx-case.js --case forward --size 128 --onnx net.onnx --threads 2 --warmup 1 --repeats 3
 *   node bench/onnx-case.js --case segment --engine onnxruntime --fine-mode whole --slices 200 \
 *       --coarse-onnx c.onnx --fine-onnx f.onnx --threads 2 --repeats 2
 *
 * Cases:
 *   forward  OnnxResUNet.forward (onnxruntime-node) on a [1, 1, size, size, size] Float32Array, the
 *            network loaded from --onnx (the driver exports it from the addon's seed-0 weights, the
 *            network bench/liverseg_case.js and the Python peer run), so the process never loads LibTorch;
 *   segment  segment() of a 512x512x<slices> phantom .nii.gz to a mask .nii.gz, as bench/segment_case.js
 *            (default network, untrained weights, seeds 1 and 2; the coarse output replaced by the
 *            phantom's liver at 128^3 after its forward ran, so the ROI is a real liver's), on
 *            --engine libtorch (ResUNet, seeds 1 and 2) or onnxruntime (the same networks from
 *            --coarse-onnx and --fine-onnx), with --fine-mode windows | whole | auto (and
 *            --max-voxels for segment()'s maxVoxelsPerPass). With
 *            LIVERSEG_NATIVE=off (onnxruntime only) resize and components run in TypeScript.
 *
 * liverseg is used only through its public entry point, require('..').
 */
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

const liverseg = require('..');

const SPACING = [0.7, 0.7, 2.5];
const MARGIN = 30;
const OVERLAP = 0.25;

function parseArgs(argv) {
  const a = {
    case: undefined,
    size: 128,
    engine: 'onnxruntime',
    'fine-mode': 'windows',
    'max-voxels': 0,
    onnx: undefined,
    'coarse-onnx': undefined,
    'fine-onnx': undefined,
    repeats: 3,
    warmup: 1,
    threads: 0,
    slices: 200,
    'in-plane': 512,
    window: 128,
    seed: 0,
    tag: '',
  };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m || !(m[1] in a)) throw new Error(`unknown argument '${argv[i]}'`);
    const val = m[2] !== undefined ? m[2] : argv[++i];
    if (val === undefined) throw new Error(`--${m[1]} needs a value`);
    a[m[1]] = typeof a[m[1]] === 'number' ? Number(val) : val;
  }
  if (!['forward', 'segment'].includes(a.case)) throw new Error('--case must be forward or segment');
  return a;
}

const median = (xs) => {
  const s = [...xs].sort((p, q) => p - q);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null;
};
const r4 = (x) => (x == null ? null : Math.round(x * 1e4) / 1e4);
const r1 = (x) => (x == null ? null : Math.round(x * 10) / 10);

/** The same standard-normal input as bench/liverseg_case.js (mulberry32 + Box-Muller, seed + 1). */
function randomImages(n, seed) {
  let s = seed >>> 0;
  const u = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u() || 1e-12));
    const t = 2 * Math.PI * u();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

const threadsOf = (a) => (a.threads > 0 ? a.threads : undefined);

async function forwardCase(a, result) {
  if (!a.onnx) throw new Error('--case forward needs --onnx');
  const net = await liverseg.OnnxResUNet.fromOnnx(fs.readFileSync(a.onnx), {}, { threads: threadsOf(a) });
  result.threads = net.threads;
  result.params = net.parameterCount;
  result.onnxruntime = liverseg.onnxruntimeAvailability().version;
  const s = a.size;
  const images = { data: randomImages(s ** 3, a.seed + 1), shape: [1, 1, s, s, s] };
  return { step: async () => (await net.forward(images)).shape, cleanup: () => net.dispose() };
}

async function segmentCase(a, result) {
  const { segment, makePhantom, toCanonical, saveVolume, resize, DEFAULT_INTENSITY } = liverseg;
  const { ctFixture } = require('./fixture');
  const w = a.window;
  const coarseSize = [w, w, w];
  const n = a['in-plane'];
  const shape = [n, n, a.slices];
  const spacing = n === 512 ? SPACING : SPACING.map((s, i) => (i < 2 ? (s * 512) / n : s));
  const fx = ctFixture(shape, { seed: a.seed, spacing });
  const ph = makePhantom({ shape, seed: a.seed, spacing });
  const intensity = DEFAULT_INTENSITY;
  let coarseNet, fineNet;
  if (a.engine === 'libtorch') {
    if (a.threads > 0) liverseg.setNumThreads(a.threads);
    coarseNet = await liverseg.ResUNet.create({ device: 'cpu', seed: 1 });
    fineNet = await liverseg.ResUNet.create({ device: 'cpu', seed: 2 });
  } else {
    if (!a['coarse-onnx'] || !a['fine-onnx']) throw new Error('--engine onnxruntime needs --coarse-onnx and --fine-onnx');
    coarseNet = await liverseg.OnnxResUNet.fromOnnx(fs.readFileSync(a['coarse-onnx']), {}, { threads: threadsOf(a) });
    fineNet = await liverseg.OnnxResUNet.fromOnnx(fs.readFileSync(a['fine-onnx']), {}, { threads: threadsOf(a) });
  }
  const small = resize(toCanonical(ph.label).volume, { size: coarseSize, mode: 'nearest' }).data;
  const oracle = Float32Array.from(small, (v) => (v ? 1 : 0));
  // The coarse forward runs (its cost is real), then its output is the phantom's liver.
  const coarseProxy = {
    device: 'cpu',
    architecture: coarseNet.architecture,
    memoryStats: () => ({ allocated: 0, peakAllocated: 0, reserved: 0 }),
    dispose: async () => undefined,
    async predictVolume(volume, options) {
      const out = await coarseNet.predictVolume(volume, options);
      return { data: options.output === 'mask' ? Uint8Array.from(oracle) : oracle.slice(), shape: out.shape };
    },
  };
  const config = coarseNet.architecture;
  const pipeline = {
    kind: 'two-stage',
    coarse: { net: coarseProxy, bundle: { stage: 'coarse', inputSize: coarseSize, intensity, config }, path: '(bench)' },
    fine: { net: fineNet, bundle: { stage: 'fine', inputSize: [w, w, w], intensity, config, roiMargin: MARGIN }, path: '(bench)' },
    margin: MARGIN,
    source: '(bench)',
  };
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'liverseg-bench-onnx-'));
  const outPath = path.join(outDir, 'mask.nii.gz');
  const stages = [];
  result.shape = shape;
  result.engine = a.engine;
  result.fine_mode = a['fine-mode'];
  result.native_ops = process.env.LIVERSEG_NATIVE === 'off' ? 'typescript' : 'native';
  // oneDNN / onnxruntime kernels for the window shapes, before the timed runs
  const v = { data: new Int16Array(w ** 3), shape: [w, w, w] };
  await coarseNet.predictVolume(v, { sliding: false, intensity, output: 'mask' });
  return {
    step: async () => {
      const mask = await segment(fx.path, {
        model: pipeline,
        overlap: OVERLAP,
        blend: 'gaussian',
        fineMode: a['fine-mode'],
        maxVoxelsPerPass: a['max-voxels'] > 0 ? a['max-voxels'] : undefined,
      });
      const t1 = performance.now();
      await saveVolume(outPath, mask);
      const t = mask.timings;
      stages.push({ load: t.load / 1000, coarse: t.coarse / 1000, fine: t.fine / 1000, post: t.postprocess / 1000, save: (performance.now() - t1) / 1000 });
      if (mask.roi) result.roi_size = [0, 1, 2].map((d) => mask.roi.end[d] - mask.roi.start[d]);
      return mask.shape;
    },
    extra: () => {
      const ok = stages.slice(a.warmup);
      const out = {};
      for (const k of Object.keys(ok[0] || {})) out[k] = r4(median(ok.map((s) => s[k])));
      return { stages_s: out };
    },
    cleanup: async () => {
      fs.rmSync(outDir, { recursive: true, force: true });
      await coarseNet.dispose();
      await fineNet.dispose();
    },
  };
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const side = a.case === 'forward' ? 'onnxruntime' : a.engine;
  const result = { side, case: a.case, size: a.case === 'forward' ? a.size : null, batch: 1, device: 'cpu', tag: a.tag || null };
  const run = a.case === 'forward' ? await forwardCase(a, result) : await segmentCase(a, result);
  result.base_rss_mib = r1(process.memoryUsage.rss() / 2 ** 20);
  for (let i = 0; i < a.warmup; i++) await run.step();
  const times = [];
  for (let i = 0; i < a.repeats; i++) {
    const t0 = performance.now();
    result.output_shape = await run.step();
    times.push((performance.now() - t0) / 1000);
  }
  Object.assign(result, {
    times_s: times.map(r4),
    median_s: r4(median(times)),
    min_s: r4(Math.min(...times)),
    max_s: r4(Math.max(...times)),
    peak_rss_mib: r1(process.resourceUsage().maxRSS / 1024),
    ...(run.extra ? run.extra() : {}),
  });
  await run.cleanup();
  console.log(JSON.stringify(result));
}

main().catch((e) => {
  process.stderr.write(`onnx-case: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
