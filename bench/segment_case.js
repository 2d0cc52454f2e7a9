/**
 * The end-to-end case: `segment()` of a phantom CT, file in (.nii.gz) to file out (.nii.gz), with
 * the default network for both stages (coarse at 128³, fine by 128³ sliding windows, overlap 0.25,
 * Gaussian blending, ROI margin 30 voxels) — the report's two-stage setting. `--window 64` shrinks
 * both sizes for a smoke test.
 *
 * There is no trained model in the repository, and an untrained coarse model's mask is noise, which
 * would make the fine stage cover the whole volume: a cost no trained model has. So the coarse
 * model's forward pass really runs (same cost), but its output is swapped for the phantom's liver
 * label resized to 128³ — what a good coarse model returns — before segment() takes the largest
 * component and the ROI from it. Everything else (file read, orientation, resize, both networks,
 * window blending, components, paste-back, file write) is the real code path at the real size.
 * liverseg is used only through its public entry point, require('..').
 */
'use strict';
const os = require('os');
const fs = require('fs');
const path = require('path');

const SPACING = [0.7, 0.7, 2.5];
const MARGIN = 30;
const OVERLAP = 0.25;

function windowsAlong(n, roi, overlap) {
  if (n <= roi) return 1;
  const interval = Math.max(1, Math.floor(roi * (1 - overlap)));
  return Math.ceil((n - roi) / interval) + 1;
}

/**
 * Builds the pipeline and the input file. Returns { description, warm(), once() }; once() resolves
 * with { shape, stages } (seconds per stage).
 */
async function prepare(segmentFn, makePhantom, a) {
  const { ResUNet, toCanonical, saveVolume, resize, DEFAULT_INTENSITY } = require('..');
  // The report's window, unless the package defines its default.
  const intensity = DEFAULT_INTENSITY || { aMin: -300, aMax: 300, bMin: 0, bMax: 1, clip: true };
  const { ctFixture } = require('./fixture');
  const w = a.window;
  const COARSE_SIZE = [w, w, w];
  const FINE_ROI = [w, w, w];
  const n = a['in-plane'];
  const shape = [n, n, a.slices];
  const spacing = n === 512 ? SPACING : SPACING.map((s, i) => (i < 2 ? (s * 512) / n : s));
  const fx = ctFixture(shape, { seed: a.seed, spacing });
  const ph = makePhantom({ shape, seed: a.seed, spacing });

  const channels = a.channels.split(',').map(Number);
  const coarseNet = await ResUNet.create({ channels, block: a.block, device: a.device, seed: 1 });
  const fineNet = await ResUNet.create({ channels, block: a.block, device: a.device, seed: 2 });
  const canonLabel = toCanonical(ph.label).volume;
  // Nearest neighbour (source index floor(dst * in / out)), as the coarse stage's resize of a mask.
  const small = resize(canonLabel, { size: COARSE_SIZE, mode: 'nearest' }).data;
  const oracle = new Uint8Array(small.length);
  for (let i = 0; i < small.length; i++) oracle[i] = small[i] ? 1 : 0;
  const coarseProxy = {
    get device() {
      return coarseNet.device;
    },
    async predictVolume(volume, options) {
      const out = await coarseNet.predictVolume(volume, options);
      return { data: oracle.slice(), shape: out.shape };
    },
  };
  const config = coarseNet.architecture;
  const pipeline = {
    kind: 'two-stage',
    coarse: { net: coarseProxy, bundle: { stage: 'coarse', inputSize: COARSE_SIZE, intensity, config }, path: '(bench)' },
    fine: { net: fineNet, bundle: { stage: 'fine', inputSize: FINE_ROI, intensity, config, roiMargin: MARGIN }, path: '(bench)' },
    margin: MARGIN,
    source: '(bench)',
  };
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'liverseg-bench-seg-'));
  const outPath = path.join(outDir, 'mask.nii.gz');
  let roiInfo = null;

  const once = async () => {
    const mask = await segmentFn(fx.path, { model: pipeline, overlap: OVERLAP, blend: 'gaussian' });
    const t1 = performance.now();
    // File out, as a service would: the mask in the input's geometry, gzip level 1.
    await saveVolume(outPath, mask);
    const t2 = performance.now();
    if (mask.roi) {
      const size = [0, 1, 2].map((d) => mask.roi.end[d] - mask.roi.start[d]);
      roiInfo = { roi_size: size, fine_windows: size.reduce((w, s, d) => w * windowsAlong(s, FINE_ROI[d], OVERLAP), 1) };
    }
    const t = mask.timings || {};
    const stages = {
      load: t.load != null ? t.load / 1000 : null,
      coarse: t.coarse != null ? t.coarse / 1000 : null,
      fine: t.fine != null ? t.fine / 1000 : null,
      post: t.postprocess != null ? t.postprocess / 1000 : null,
      save: (t2 - t1) / 1000,
    };
    return { shape: mask.shape, stages };
  };

  // Primes oneDNN for the window shapes of both networks, so the first timed run is not the one
  // that builds the convolution primitives.
  const warm = async () => {
    const v = { data: new Int16Array(w ** 3), shape: [w, w, w] };
    await coarseNet.predictVolume(v, { sliding: false, intensity, output: 'mask' });
    await fineNet.predictVolume(v, { roi: FINE_ROI, overlap: OVERLAP, intensity, output: 'mask' });
  };

  const description =
    `default ResUNet (${channels.join('-')}, ${a.block}) for both stages, untrained weights; coarse at ${COARSE_SIZE.join('×')}, ` +
    `fine by ${FINE_ROI.join('×')} windows (overlap ${OVERLAP}, Gaussian, 1 window per batch), ROI margin ${MARGIN}; ` +
    `the coarse output is replaced by the phantom's liver label at ${COARSE_SIZE.join('×')} (the coarse forward still runs); ` +
    `phantoms (seed ${a.seed}) ${shape[0]}×${shape[1]}×N at ${spacing.map((s) => +s.toFixed(3)).join('×')} mm, .nii.gz in and out (gzip 1)`;
  return {
    description,
    warm,
    once,
    info: () => roiInfo,
    cleanup: async () => {
      fs.rmSync(outDir, { recursive: true, force: true });
      await coarseNet.dispose();
      await fineNet.dispose();
    },
  };
}

/** Median per stage over runs. */
function medianStages(list) {
  const ok = list.filter(Boolean);
  if (!ok.length) return null;
  const out = {};
  for (const k of Object.keys(ok[0])) {
    const v = ok
      .map((s) => s[k])
      .filter((x) => x != null)
      .sort((p, q) => p - q);
    if (!v.length) continue;
    const m = v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    out[k] = Math.round(m * 1e4) / 1e4;
  }
  return out;
}

module.exports = { prepare, medianStages, windowsAlong };
