#!/usr/bin/env node
/**
 * Builds and runs the C++ core tests (cpp/tests/core_tests.cc against cpp/core, no Node or
 * addon) in build-core-tests/:
 *   cmake -S . -B build-core-tests -DLIVERSEG_BUILD_CORE_TESTS=ON -DLIVERSEG_BUILD_ADDON=OFF [-G Ninja]
 *   cmake --build build-core-tests --target liverseg_core_tests   (CMAKE_BUILD_PARALLEL_LEVEL = cores)
 *   build-core-tests/liverseg_core_tests
 * Configuring happens once (or when the LibTorch choice changes); the build is cmake's own
 * incremental one, so a run with nothing changed under cpp/core, cpp/tests or CMakeLists.txt only
 * re-checks timestamps before running the tests. Exits non-zero when a step or a test fails.
 * LibTorch is found as for the addon: Torch_DIR / CMAKE_PREFIX_PATH, Debian's libtorch-dev, or
 * LIVERSEG_TORCH_FROM_PYTHON=1 (with LIVERSEG_PYTHON) for a PyTorch wheel.
 * Plain Node with no dependencies.
 */
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const buildDir = path.join(root, 'build-core-tests');
const log = (msg) => process.stderr.write(`[liverseg core-tests] ${msg}\n`);

function run(cmd, args, opts = {}) {
  log(`$ ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.error) {
    log(`failed to start ${cmd}: ${r.error.message}`);
    process.exit(1);
  }
  if (r.status !== 0) {
    log(`failed: ${cmd} (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

const truthy = (v) => v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false' && v.toLowerCase() !== 'off';

if (!has('cmake')) {
  log("cmake was not found: install it (Debian: 'apt-get install cmake g++ libtorch-dev')");
  process.exit(1);
}

const fromPython = truthy(process.env.LIVERSEG_TORCH_FROM_PYTHON);
const defines = ['-DLIVERSEG_BUILD_CORE_TESTS=ON', '-DLIVERSEG_BUILD_ADDON=OFF', `-DLIVERSEG_TORCH_FROM_PYTHON=${fromPython ? 'ON' : 'OFF'}`];
if (process.env.LIVERSEG_PYTHON) defines.push(`-DLIVERSEG_PYTHON=${process.env.LIVERSEG_PYTHON}`);

// Configure when there is no cache yet, or when the cached choices differ from this run's.
const cachePath = path.join(buildDir, 'CMakeCache.txt');
const cache = fs.existsSync(cachePath) ? fs.readFileSync(cachePath, 'utf8') : '';
const cached = (name) => (cache.match(new RegExp(`^${name}:[A-Z]+=(.*)$`, 'm')) || [])[1];
const stale =
  !cache ||
  cached('LIVERSEG_BUILD_CORE_TESTS') !== 'ON' ||
  cached('LIVERSEG_TORCH_FROM_PYTHON') !== (fromPython ? 'ON' : 'OFF') ||
  (process.env.LIVERSEG_PYTHON !== undefined && cached('LIVERSEG_PYTHON') !== process.env.LIVERSEG_PYTHON);
if (stale) {
  // A generator cannot change inside one build folder: keep the cached one once there is a cache.
  const generator = !cache && has('ninja') ? ['-G', 'Ninja'] : [];
  run('cmake', ['-S', root, '-B', buildDir, ...generator, ...defines]);
}

const jobs = String(Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
run('cmake', ['--build', buildDir, '--target', 'liverseg_core_tests'], { env: { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: jobs } });

const candidates = ['liverseg_core_tests', path.join('Release', 'liverseg_core_tests')].map((p) => path.join(buildDir, p));
const binary = candidates.find((p) => fs.existsSync(p));
if (!binary) {
  log(`the test program was not found in ${buildDir}`);
  process.exit(1);
}
run(binary, []);
