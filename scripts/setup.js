#!/usr/bin/env node
/**
 * Brings a checkout to a runnable state, doing only what is missing or stale:
 *   1. system packages: a C++ toolchain, CMake and LibTorch (Debian's libtorch-dev through apt,
 *      when no LibTorch is found and we are root on a Debian-like system);
 *   2. npm dependencies from the lock file (npm ci);
 *   3. the TypeScript build (lib/);
 *   4. the native addon (cmake-js, Node-API headers from the node-api-headers package).
 * Plain Node with no dependencies, so it can run before `npm ci`.
 */
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { buildAddon } = require('./build-addon');
const { findTorch } = require('./find-torch');

const root = path.resolve(__dirname, '..');
const quiet = process.argv.includes('--quiet');
const log = (msg) => {
  if (!quiet) process.stderr.write(`[liverseg setup] ${msg}\n`);
};

function run(cmd, opts = {}) {
  log(`$ ${cmd}`);
  const r = spawnSync(cmd, { shell: true, stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) {
    process.stderr.write(`[liverseg setup] failed: ${cmd} (exit ${r.status})\n`);
    process.exit(r.status || 1);
  }
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function newestMtime(entries) {
  let newest = 0;
  const visit = (p) => {
    let st;
    try {
      st = fs.statSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) visit(path.join(p, e));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const e of entries) visit(path.join(root, e));
  return newest;
}

function mtime(p) {
  try {
    return fs.statSync(path.join(root, p)).mtimeMs;
  } catch {
    return 0;
  }
}

// 1. system packages: what the build needs, then the programs the test suite checks us against
// or starts (each test that uses one skips with its reason where it cannot be installed).
const aptPackages = [];
if (!has('cmake')) aptPackages.push('cmake');
if (!has('g++') || !has('make')) aptPackages.push('g++', 'make');
if (!findTorch()) aptPackages.push('libtorch-dev');
// Debian's LibTorch ships c10d's Gloo process group, but its headers need Gloo's own (data-parallel training).
const debianTorch = ['x86_64-linux-gnu', 'aarch64-linux-gnu'].some((arch) => fs.existsSync(`/usr/lib/${arch}/cmake/Torch/TorchConfig.cmake`));
if ((debianTorch || aptPackages.includes('libtorch-dev')) && !fs.existsSync('/usr/include/gloo/context.h')) aptPackages.push('libgloo-dev');
/**
 * [what shows the package is there, Debian package] for the test suite's peers and servers: a
 * command on PATH, or a function that returns true when the package is installed.
 */
const TEST_TOOLS = [
  ['clang-format', 'clang-format'],
  ['redis-server', 'redis-server'],
  ['chromium', 'chromium'],
  // DICOM: the independent converter the loader is checked against, the transcoders that make every
  // transfer syntax, the SEG validator and dumper.
  ['dcm2niix', 'dcm2niix'],
  ['dcmdump', 'dcmtk'],
  ['dciodvfy', 'dicom3tools'],
  ['gdcmconv', 'libgdcm-tools'],
  // ONNX: the reference checker the exported graphs must pass (a Python module, no command).
  [() => spawnSync('/usr/bin/python3', ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0, 'python3-onnx'],
];
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const canApt = has('apt-get') && isRoot;
const present = (check) => (typeof check === 'function' ? check() : has(check));
const testTools = process.argv.includes('--no-test-tools') ? [] : TEST_TOOLS.filter(([check]) => !present(check)).map(([, pkg]) => pkg);
if (testTools.length && !canApt) log(`not installing the test suite's tools (${testTools.join(', ')}): not root with apt-get; the tests that need them skip`);
if (canApt) for (const pkg of testTools) if (!aptPackages.includes(pkg)) aptPackages.push(pkg);
if (aptPackages.length) {
  if (!canApt) {
    process.stderr.write(
      `[liverseg setup] missing: ${aptPackages.join(', ')}. Install them (Debian/Ubuntu: 'apt-get install ${aptPackages.join(' ')}'), ` +
        `or point Torch_DIR at a LibTorch's share/cmake/Torch folder, then run this again.\n`,
    );
    process.exit(1);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get update', { env });
  run(`apt-get install -y --no-install-recommends ${aptPackages.join(' ')}`, { env });
}

// 2. npm dependencies
const lockStamp = path.join('node_modules', '.package-lock.json');
if (!fs.existsSync(path.join(root, lockStamp)) || mtime('package-lock.json') > mtime(lockStamp)) {
  run('npm ci --no-audit --no-fund --ignore-scripts');
}

// 3. TypeScript
const tsStamp = path.join('lib', '.build-stamp');
if (newestMtime(['src/ts', 'tsconfig.json']) > mtime(tsStamp)) {
  // From an empty lib/: tsc never deletes the output of a source that moved or was removed, and a
  // stale lib/x.js would be packed and could shadow lib/x/index.js.
  fs.rmSync(path.join(root, 'lib'), { recursive: true, force: true });
  run('npx tsc -p .');
  fs.writeFileSync(path.join(root, tsStamp), new Date().toISOString() + '\n');
}

// 3b. the viewer page of liverseg-serve (src/viewer with NiiVue, bundled by esbuild into lib/viewer/)
const viewerPage = path.join('lib', 'viewer', 'index.html');
if (newestMtime(['src/viewer', 'scripts/build-viewer.js']) > mtime(viewerPage)) {
  run('node scripts/build-viewer.js');
}

// 4. native addon
const addon = path.join('build', 'Release', 'liverseg.node');
if (newestMtime(['cpp', 'CMakeLists.txt']) > mtime(addon)) {
  const built = buildAddon({ log });
  if (!built.ok) {
    process.stderr.write(`[liverseg setup] failed: ${built.error}\n`);
    process.exit(1);
  }
  // A no-op rebuild (sources touched but unchanged) leaves the file's time alone; mark it fresh.
  const now = new Date();
  fs.utimesSync(path.join(root, addon), now, now);
}
log('ready');
