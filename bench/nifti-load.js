#!/usr/bin/env node
/**
 * Load benchmark: a 512x512x200 int16 CT-like volume as .nii.gz (gzip level 1), read with
 * loadVolume and converted to float32 with toFloat32. Target: faster than nibabel's 0.92 s for the
 * same job, with peak memory under about 400 MiB above the process's baseline.
 *
 * Build first (`npx tsc -p .`), then: `node bench/nifti-load.js [file.nii.gz] [runs]`. liverseg is
 * used through its public entry point, require('..'), only.
 * Each run happens in a fresh child process so that peak RSS (VmHWM, Linux) belongs to that run
 * alone; the file is generated once if it does not exist.
 */
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const MiB = 1024 * 1024;
const SHAPE = [512, 512, 200];

function procStatus(field) {
  const m = fs.readFileSync('/proc/self/status', 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** A body-shaped phantom with organ-like regions and a little noise, so it compresses like CT. */
function phantom() {
  const [ni, nj, nk] = SHAPE;
  const data = new Int16Array(ni * nj * nk);
  let seed = 12345;
  // Uniform noise of +-amp HU; CT noise inside the body is tens of HU, which is what makes real
  // scans compress to 40-60% of their size at level 1 rather than the 20% a clean phantom gets.
  const noise = (amp) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return ((seed >>> 8) % (2 * amp + 1)) - amp;
  };
  let idx = 0;
  for (let k = 0; k < nk; k++) {
    for (let j = 0; j < nj; j++) {
      for (let i = 0; i < ni; i++) {
        const x = (i - 256) / 200;
        const y = (j - 256) / 150;
        const r = x * x + y * y;
        let v = -1024 + noise(8);
        if (r < 1) {
          v = 40 + noise(60);
          const lx = (i - 180) / 70;
          const ly = (j - 230) / 60;
          if (lx * lx + ly * ly < 1) v = 60 + noise(60); // liver-ish
          if (r > 0.85) v = 700 + noise(200); // rim, bone-ish
        }
        data[idx++] = v;
      }
    }
  }
  return data;
}

async function generate(file, io) {
  const affine = [
    [0.7, 0, 0, -180],
    [0, 0.7, 0, -180],
    [0, 0, 1.5, -300],
    [0, 0, 0, 1],
  ];
  await io.saveVolume(file, { data: phantom(), shape: [...SHAPE], spacing: [0.7, 0.7, 1.5], affine }, { gzipLevel: 1 });
}

async function measure(file, mode) {
  const io = require('..');
  const zlib = require('node:zlib');
  const base = procStatus('VmRSS');
  const t0 = process.hrtime.bigint();
  let t1;
  if (mode === 'oneshot') {
    // Reference only: read + one-shot zlib.gunzip (no parsing, no conversion).
    const z = await fs.promises.readFile(file);
    const raw = await new Promise((res, rej) => zlib.gunzip(z, (e, b) => (e ? rej(e) : res(b))));
    t1 = process.hrtime.bigint();
    if (raw.length < 0) throw new Error('unreachable');
  } else {
    const v = await io.loadVolume(file);
    t1 = process.hrtime.bigint();
    const f = io.toFloat32(v);
    if (f.data.length !== SHAPE[0] * SHAPE[1] * SHAPE[2]) throw new Error('wrong size');
  }
  const t2 = process.hrtime.bigint();
  const peak = procStatus('VmHWM');
  process.stdout.write(JSON.stringify({ loadS: Number(t1 - t0) / 1e9, totalS: Number(t2 - t0) / 1e9, peakOverBaselineMiB: (peak - base) / MiB }));
}

async function main() {
  if (process.argv[2] === '--measure') return measure(process.argv[3], process.argv[4]);
  const file = process.argv[2] || path.join(os.tmpdir(), 'liverseg-bench-512x512x200-int16-noisy.nii.gz');
  const runs = Number(process.argv[3] || 5);
  if (!fs.existsSync(file)) {
    console.log(`generating ${file} ...`);
    await generate(file, require('..'));
  }
  const size = fs.statSync(file).size;
  console.log(
    `file: ${file} (${(size / MiB).toFixed(1)} MiB gzipped, ${SHAPE.join('x')} int16 = ${((SHAPE[0] * SHAPE[1] * SHAPE[2] * 2) / MiB).toFixed(0)} MiB raw)`,
  );
  console.log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0].model})`);
  for (const mode of ['loadVolume+toFloat32', 'oneshot']) {
    const results = [];
    for (let r = 0; r < runs; r++) {
      const out = execFileSync(process.execPath, [__filename, '--measure', file, mode], { encoding: 'utf8' });
      results.push(JSON.parse(out));
    }
    const med = (k) => results.map((x) => x[k]).sort((a, b) => a - b)[Math.floor(results.length / 2)];
    const max = (k) => Math.max(...results.map((x) => x[k]));
    if (mode === 'oneshot') {
      console.log(`reference, readFile + zlib.gunzip only: median ${med('loadS').toFixed(3)} s, peak +${max('peakOverBaselineMiB').toFixed(0)} MiB`);
    } else {
      console.log(
        `loadVolume: median ${med('loadS').toFixed(3)} s; loadVolume + toFloat32: median ${med('totalS').toFixed(3)} s ` +
          `(min ${Math.min(...results.map((x) => x.totalS)).toFixed(3)}, max ${max('totalS').toFixed(3)}); ` +
          `peak RSS over baseline: max ${max('peakOverBaselineMiB').toFixed(0)} MiB over ${runs} runs`,
      );
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
