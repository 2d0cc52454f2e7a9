#!/usr/bin/env node
/**
 * How long the event loop stalls while segment() works on a CT given by path: a 512x512x200
 * int16 .nii.gz in LPS order (so it is reoriented on the way in and out), through a two-stage
 * pipeline of small untrained models (the native passes run off the JS thread either way; what
 * is measured is the JavaScript around them). Prints p50 / p99 / max of perf_hooks'
 * monitorEventLoopDelay over the call, in milliseconds, as one JSON line.
 *
 *   node bench/event-loop.js [--slices 200] [--runs 3]
 */
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { monitorEventLoopDelay } = require('perf_hooks');
const { parseArgs } = require('util');
const ls = require('..');

async function main() {
  const { values } = parseArgs({ options: { slices: { type: 'string', default: '200' }, runs: { type: 'string', default: '3' } } });
  const nk = Number(values.slices);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'liverseg-evloop-'));
  try {
    const shape = [512, 512, nk];
    const data = new Int16Array(shape[0] * shape[1] * shape[2]).fill(-1000);
    const ct = {
      data,
      shape,
      spacing: [0.8, 0.8, 2],
      affine: [
        [-0.8, 0, 0, 200],
        [0, -0.8, 0, 200],
        [0, 0, 2, -100],
        [0, 0, 0, 1],
      ],
    };
    const file = path.join(dir, 'ct.nii.gz');
    await ls.saveVolume(file, ct);
    const intensity = { aMin: -300, aMax: 300, bMin: 0, bMax: 1, clip: true };
    const net = await ls.ResUNet.create({ channels: [4, 8, 16], device: 'cpu' });
    await ls.saveModel(path.join(dir, 'coarse.json'), net, { stage: 'coarse', intensity, inputSize: [64, 64, 64] });
    await ls.saveModel(path.join(dir, 'fine.json'), net, { stage: 'fine', intensity, inputSize: [64, 64, 64] });
    await net.dispose();
    await ls.writePipeline(path.join(dir, 'pipeline.json'), path.join(dir, 'coarse.json'), path.join(dir, 'fine.json'), 4);
    const pipeline = await ls.loadPipeline(path.join(dir, 'pipeline.json'), { device: 'cpu' });
    for (let r = 0; r < Number(values.runs); r++) {
      const h = monitorEventLoopDelay({ resolution: 1 });
      h.enable();
      const t0 = Date.now();
      const mask = await ls.segment(file, { model: pipeline });
      h.disable();
      const ms = (ns) => +(ns / 1e6).toFixed(1);
      console.log(
        JSON.stringify({
          run: r + 1,
          shape,
          seconds: (Date.now() - t0) / 1000,
          liverFound: mask.liverFound,
          p50: ms(h.percentile(50)),
          p99: ms(h.percentile(99)),
          max: ms(h.max),
        }),
      );
    }
    await ls.clearPipelineCache();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
