/**
 * The benchmark's CT file: an int16 .nii.gz (gzip level 1) of a given shape, written once per
 * shape into a cache folder and reused. The voxels are a liverseg phantom (makePhantom, from the
 * package's public entry point) when the package is built, else a simple synthetic body (ellipse
 * of soft tissue, spine, noise) with the same value range, so the file compresses like CT either way.
 *
 * The NIfTI-1 writer here is deliberately separate from lib/io: the file is the common input of
 * both sides, so it should not depend on the code under test.
 */
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');

function cacheDir() {
  const dir = process.env.LIVERSEG_BENCH_CACHE || path.join(os.tmpdir(), 'liverseg-bench');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** A NIfTI-1 single file (.nii) for int16 voxels, sform from `affine` (voxel -> RAS mm). */
function niftiBytes(data, shape, spacing, affine) {
  const hdr = Buffer.alloc(352);
  hdr.writeInt32LE(348, 0); // sizeof_hdr
  hdr.writeUInt8('r'.charCodeAt(0), 39); // regular
  const dim = [3, shape[0], shape[1], shape[2], 1, 1, 1, 1];
  dim.forEach((d, i) => hdr.writeInt16LE(d, 40 + 2 * i));
  hdr.writeInt16LE(4, 70); // datatype: DT_INT16
  hdr.writeInt16LE(16, 72); // bitpix
  const pixdim = [1, spacing[0], spacing[1], spacing[2], 1, 1, 1, 1];
  pixdim.forEach((p, i) => hdr.writeFloatLE(p, 76 + 4 * i));
  hdr.writeFloatLE(352, 108); // vox_offset
  hdr.writeFloatLE(1, 112); // scl_slope
  hdr.writeFloatLE(0, 116); // scl_inter
  hdr.writeUInt8(2 | 8, 123); // xyzt_units: mm, s
  hdr.write('liverseg bench fixture', 148, 'latin1');
  hdr.writeInt16LE(0, 252); // qform_code
  hdr.writeInt16LE(1, 254); // sform_code: scanner
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) hdr.writeFloatLE(affine[r][c], 280 + 16 * r + 4 * c);
  hdr.write('n+1\0', 344, 'latin1');
  // bytes 348..351: no extension
  return Buffer.concat([hdr, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

function syntheticCT(shape, seed = 0) {
  const [ni, nj, nk] = shape;
  const out = new Int16Array(ni * nj * nk);
  let s = (seed * 2654435761 + 1) >>> 0;
  const rand = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  const ci = (ni - 1) / 2,
    cj = (nj - 1) / 2;
  for (let k = 0; k < nk; k++) {
    for (let j = 0; j < nj; j++) {
      for (let i = 0; i < ni; i++) {
        const x = (i - ci) / (ni * 0.42),
          y = (j - cj) / (nj * 0.33);
        const r2 = x * x + y * y;
        let v = -1000;
        if (r2 < 1) v = r2 > 0.8 ? -100 : 50;
        if ((i - ci) ** 2 + (j - cj - nj * 0.22) ** 2 < (ni * 0.04) ** 2) v = 700;
        if (x > 0.05 && x < 0.8 && y > -0.6 && y < 0.5 && r2 < 0.75) v = 60;
        out[(k * nj + j) * ni + i] = v + Math.round((rand() - 0.5) * 40);
      }
    }
  }
  return out;
}

/**
 * Path of a cached `<ni>x<nj>x<nk>` int16 .nii.gz (a phantom with `seed`, and `spacing` in mm when
 * given, else the phantom's default); writes it when missing. Returns
 * { path, bytes, content, seconds } (seconds: time to make it, 0 when cached).
 */
function ctFixture(shape, { seed = 0, spacing: wantSpacing = null, log = () => {} } = {}) {
  let makePhantom = null;
  try {
    makePhantom = require('..').makePhantom;
  } catch {
    makePhantom = null;
  }
  const content = typeof makePhantom === 'function' ? 'phantom' : 'synthetic';
  const sp = wantSpacing ? `_sp${wantSpacing.join('x')}` : '';
  const file = path.join(cacheDir(), `ct_${shape.join('x')}${sp}_i16_gz1_${content}_s${seed}.nii.gz`);
  if (fs.existsSync(file)) return { path: file, bytes: fs.statSync(file).size, content, seconds: 0 };
  const t0 = performance.now();
  log(`writing ${file} (${content})`);
  let data, spacing, affine;
  if (content === 'phantom') {
    const ph = makePhantom(wantSpacing ? { shape, seed, spacing: wantSpacing } : { shape, seed });
    data = ph.image.data;
    spacing = ph.image.spacing;
    affine = ph.image.affine;
    if (!(data instanceof Int16Array)) data = Int16Array.from(data);
  } else {
    data = syntheticCT(shape, seed);
    spacing = wantSpacing || [0.7, 0.7, 2.5];
    affine = [
      [-spacing[0], 0, 0, 179],
      [0, -spacing[1], 0, 179],
      [0, 0, spacing[2], -250],
      [0, 0, 0, 1],
    ];
  }
  const gz = zlib.gzipSync(niftiBytes(data, shape, spacing, affine), { level: 1 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, gz);
  fs.renameSync(tmp, file);
  return { path: file, bytes: gz.length, content, seconds: (performance.now() - t0) / 1000 };
}

module.exports = { ctFixture, niftiBytes, syntheticCT, cacheDir };
