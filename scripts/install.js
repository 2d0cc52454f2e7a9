#!/usr/bin/env node
/**
 * The package's `install` script, in the spirit of `"install": "node-gyp-build"`:
 *   1. when a prebuild (prebuilds/<platform>-<arch>/) or an earlier build (build/Release) loads,
 *      there is nothing to do;
 *   2. in a development checkout, scripts/setup.js does the building, so do nothing here;
 *   3. when LibTorch can be found, build the addon from source with cmake-js (Node-API headers
 *      come from the node-api-headers package, so no download is needed);
 *   4. otherwise say what is missing and exit 0: the package installs, and requiring it later
 *      fails with the loader's explanation (which library, how to install LibTorch).
 * `npm install --build-from-source` (or LIVERSEG_BUILD_FROM_SOURCE=1, or `npx liverseg-build`,
 * which runs this file with --build-from-source) skips steps 1 and 2 and builds even when a
 * prebuild loads.
 *
 * npm 11 does not run a dependency's install script until the user approves it
 * (`npm install-scripts approve liverseg`), so on a plain `npm install liverseg` this file may
 * never run: the prebuild still loads where it fits, and where it does not, the loader's
 * ERR_NATIVE_LOAD message says to run `npx liverseg-build`. A failing compile exits non-zero, as node-gyp would.
 * Plain Node with no dependencies beyond what package.json lists.
 */
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { buildAddon, cmakeJsBin } = require('./build-addon');
const { findTorch, truthy } = require('./find-torch');

const root = path.resolve(__dirname, '..');
const say = (msg) => process.stderr.write(`[liverseg install] ${msg}\n`);

function resolveFrom(request) {
  try {
    return require.resolve(request, { paths: [root] });
  } catch {
    return null;
  }
}

/**
 * Loads the addon the way the package does (node-gyp-build on the package root), in a child
 * process so that a crash or a LibTorch that fails to initialise cannot take this script down.
 */
function tryLoad() {
  const ngb = resolveFrom('node-gyp-build');
  if (!ngb) return { ok: false, error: 'node-gyp-build is not installed' };
  const script =
    `const ngb = require(${JSON.stringify(ngb)});` +
    `const file = ngb.resolve(${JSON.stringify(root)});` +
    `ngb(${JSON.stringify(root)});` +
    `process.stdout.write(file);`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  if (r.status === 0) return { ok: true, file: r.stdout.trim() };
  // Node prints the source line of the throw first; the message is on the line starting `Error: `.
  const m = /^\w*Error: (.*)$/m.exec(r.stderr || '');
  return { ok: false, error: m ? m[1].trim() : `exit ${r.status ?? r.signal}` };
}

function isDevCheckout() {
  if (fs.existsSync(path.join(root, '.git'))) return true;
  return fs.existsSync(path.join(root, 'tsconfig.json')) && fs.existsSync(path.join(root, 'src', 'ts'));
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function buildFromSource(torch) {
  say(`building the addon from source with cmake-js (LibTorch from ${torch.source}); this takes a few minutes`);
  const r = buildAddon({ log: say });
  if (!r.ok) say(r.error);
  return r.ok;
}

function main() {
  const forceBuild =
    truthy(process.env.npm_config_build_from_source) || truthy(process.env.LIVERSEG_BUILD_FROM_SOURCE) || process.argv.includes('--build-from-source');

  let loadError = null;
  if (!forceBuild) {
    const loaded = tryLoad();
    if (loaded.ok) {
      say(`using ${path.relative(root, loaded.file)}`);
      return 0;
    }
    loadError = loaded.error;
  }

  if (!forceBuild && isDevCheckout()) {
    say('development checkout: not building here; run `node scripts/setup.js` (or `npm run build`).');
    return 0;
  }

  if (loadError) say(`no prebuild or earlier build loads here: ${loadError}`);
  const torch = findTorch();
  const tools = has('cmake') ? [] : ['cmake'];
  if (!has('ninja') && !has('make')) tools.push('make');
  if (!has('c++') && !has('g++') && !has('clang++')) tools.push('a C++17 compiler (g++)');
  if (!cmakeJsBin()) tools.push('cmake-js (an npm dependency of liverseg)');
  if (!torch || tools.length) {
    const missing = [...(torch ? [] : ['LibTorch']), ...tools];
    say(
      `cannot build the addon from source: missing ${missing.join(', ')}.\n` +
        `  Debian/Ubuntu: apt-get install libtorch-dev cmake g++ make\n` +
        `  or point Torch_DIR at a LibTorch (its share/cmake/Torch folder), then: npm rebuild liverseg\n` +
        `  The package is installed, but require('liverseg') will fail until the addon loads.`,
    );
    return 0;
  }

  if (!buildFromSource(torch)) {
    say('building from source failed (see above). Check the LibTorch that was found, or set Torch_DIR ' + 'to another one and run `npm rebuild liverseg`.');
    return 1;
  }
  const after = tryLoad();
  if (after.ok) say(`built ${path.relative(root, after.file)}`);
  else say(`built, but the addon does not load: ${after.error}`);
  return 0;
}

process.exitCode = main();
