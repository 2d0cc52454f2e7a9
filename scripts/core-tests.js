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
 * LibTorch is the one scripts/find-torch.js picks for the addon too.
 *
 * --asan: the same program built with AddressSanitizer (leak checking included) and
 * UndefinedBehaviorSanitizer (-DLIVERSEG_SANITIZE=address,undefined, RelWithDebInfo) in
 * build-core-tests-asan/; any report fails the run. ASAN_OPTIONS / UBSAN_OPTIONS already set in
 * the environment are appended to ours, so they win (e.g. ASAN_OPTIONS=detect_leaks=0 where a
 * CUDA LibTorch leaks on its own).
 * Plain Node with no dependencies.
 */
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { findTorch } = require('./find-torch');

const root = path.resolve(__dirname, '..');
const asan = process.argv.includes('--asan');
const unknown = process.argv.slice(2).filter((a) => a !== '--asan');
if (unknown.length) {
  process.stderr.write(`[liverseg core-tests] unknown argument ${unknown[0]} (usage: node scripts/core-tests.js [--asan])\n`);
  process.exit(2);
}
const buildDir = path.join(root, asan ? 'build-core-tests-asan' : 'build-core-tests');
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

if (!has('cmake')) {
  log("cmake was not found: install it (Debian: 'apt-get install cmake g++ libtorch-dev')");
  process.exit(1);
}

const torch = findTorch();
if (!torch) {
  log("LibTorch was not found: install it (Debian: 'apt-get install libtorch-dev'), or set Torch_DIR or LIVERSEG_TORCH_FROM_PYTHON=1");
  process.exit(1);
}
// find-torch.js speaks cmake-js ("--CDNAME=value"); plain cmake takes "-DNAME=value".
const torchDefines = torch.cmakeArgs.map((a) => a.replace(/^--CD/, '-D'));
const fromPython = torchDefines.includes('-DLIVERSEG_TORCH_FROM_PYTHON=ON');
const defines = ['-DLIVERSEG_BUILD_CORE_TESTS=ON', '-DLIVERSEG_BUILD_ADDON=OFF', `-DLIVERSEG_TORCH_FROM_PYTHON=${fromPython ? 'ON' : 'OFF'}`, ...torchDefines];
if (asan) defines.push('-DLIVERSEG_SANITIZE=address,undefined', '-DCMAKE_BUILD_TYPE=RelWithDebInfo');

// Configure when there is no cache yet, or when this run's choices differ from the cached ones,
// so a run with nothing changed goes straight to cmake's incremental build.
const cachePath = path.join(buildDir, 'CMakeCache.txt');
const cache = fs.existsSync(cachePath) ? fs.readFileSync(cachePath, 'utf8') : '';
const cached = (name) => (cache.match(new RegExp(`^${name}:[A-Z]+=(.*)$`, 'm')) || [])[1];
const stale =
  !cache ||
  defines.some((d) => {
    const [, name, value] = d.match(/^-D([^=]+)=(.*)$/);
    return cached(name) !== value;
  });
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
if (asan) {
  // A sanitizer takes the last value of an option it is given twice: the caller's come last.
  const joined = (own, caller) => [own, caller].filter(Boolean).join(':');
  const env = {
    ...process.env,
    // allocator_may_return_null=1: the out-of-memory test asks for 1 PiB and expects LibTorch's
    // error, as without ASan, rather than ASan's own report (ASan prints one warning line for it).
    // Leak checking stays on (detect_leaks=1) with no suppressions: LibTorch 1.13 on the CPU
    // leaves none that LeakSanitizer reports.
    ASAN_OPTIONS: joined('detect_leaks=1:allocator_may_return_null=1:halt_on_error=1', process.env.ASAN_OPTIONS),
    UBSAN_OPTIONS: joined('print_stacktrace=1:halt_on_error=1', process.env.UBSAN_OPTIONS),
  };
  run(binary, [], { env });
} else {
  run(binary, []);
}
