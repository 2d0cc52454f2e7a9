/**
 * The one way the addon is compiled: cmake-js (Node-API headers from the node-api-headers
 * package, so nothing is downloaded) against the LibTorch that find-torch.js picks, with every
 * core. scripts/setup.js, scripts/prebuild.js and scripts/install.js all call this.
 * Plain Node; cmake-js is resolved from the package's own dependencies.
 */
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { findTorch } = require('./find-torch');

const root = path.resolve(__dirname, '..');

function cmakeJsBin() {
  let pkgJson;
  try {
    pkgJson = require.resolve('cmake-js/package.json', { paths: [root] });
  } catch {
    return null;
  }
  return path.join(path.dirname(pkgJson), JSON.parse(fs.readFileSync(pkgJson, 'utf8')).bin['cmake-js']);
}

/**
 * Compiles build/Release/liverseg.node. Returns { ok, torch, error } and never throws, so each
 * caller decides how loudly to fail. `stdio` is passed to the child ('inherit' by default).
 */
function buildAddon({ stdio = 'inherit', log = () => {} } = {}) {
  const torch = findTorch();
  if (!torch) return { ok: false, torch: null, error: 'LibTorch was not found' };
  const bin = cmakeJsBin();
  if (!bin) return { ok: false, torch, error: 'cmake-js is not installed' };
  const args = ['compile', '--out', 'build', ...torch.cmakeArgs];
  const jobs = String(Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
  log(`$ cmake-js ${args.join(' ')}  (LibTorch from ${torch.source})`);
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, stdio, env: { CMAKE_BUILD_PARALLEL_LEVEL: jobs, ...process.env } });
  if (r.status !== 0) return { ok: false, torch, error: `cmake-js compile failed (exit ${r.status ?? r.signal})` };
  return { ok: true, torch, error: null };
}

module.exports = { buildAddon, cmakeJsBin };
