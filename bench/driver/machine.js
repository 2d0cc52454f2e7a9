/** The machine a run measures on, and liverseg's backend: the "machine" line of the results. */
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { ROOT } = require('./common');
const { sh } = require('./children');
const { round } = require('./stats');

function cpuInfo() {
  let model = 'unknown';
  let flags = '';
  try {
    const text = fs.readFileSync('/proc/cpuinfo', 'utf8');
    model = (/^model name\s*:\s*(.*)$/m.exec(text) || [])[1] || model;
    flags = (/^flags\s*:\s*(.*)$/m.exec(text) || [])[1] || '';
  } catch {
    model = os.cpus()[0] ? os.cpus()[0].model : model;
  }
  const isa = ['avx512f', 'avx512_bf16', 'amx_tile', 'avx2', 'fma'].filter((f) => flags.split(/\s+/).includes(f));
  return { model: model.trim(), logical: os.cpus().length, isa };
}

function osName() {
  try {
    return (/^PRETTY_NAME="?([^"\n]*)"?/m.exec(fs.readFileSync('/etc/os-release', 'utf8')) || [])[1] || os.type();
  } catch {
    return os.type();
  }
}

function gitRevision() {
  const r = sh('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT });
  if (r.status !== 0) return null;
  const dirty = sh('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT });
  return r.stdout.trim() + (dirty.stdout && dirty.stdout.trim() ? ' (with uncommitted changes)' : '');
}

/** liverseg's native backend (LibTorch version, oneDNN, CUDA), through the package's public entry point. */
function liversegBackend() {
  try {
    const { backend } = require('../..'); // the package's main, lib/index.js
    return backend();
  } catch (e) {
    throw new Error(`cannot load liverseg (run 'node scripts/setup.js' first): ${e.message}`);
  }
}

/**
 * The "machine" record. `be`: {@link liversegBackend}; `script`: the driver's path, `argv` its
 * arguments (for the command line it records).
 */
function machineRecord(o, be, started, script, argv) {
  return {
    kind: 'machine',
    date: started.toISOString(),
    cpu: cpuInfo(),
    memory_gib: round(os.totalmem() / 2 ** 30, 1),
    os: osName(),
    kernel: os.release(),
    node: process.version,
    libtorch: be.torchVersion,
    mkldnn: be.mkldnn,
    cuda_available: be.cudaAvailable,
    threads: o.threads,
    env: Object.keys(o.env).length ? o.env : undefined,
    peer: o.peerVersions,
    python: o.peerVersions ? o.python : null,
    git: gitRevision(),
    command: ['node', path.relative(ROOT, script), ...argv].join(' '),
    quick: o.quick,
    loadavg_start: os.loadavg().map((x) => round(x, 2)),
  };
}

module.exports = { cpuInfo, osName, gitRevision, liversegBackend, machineRecord };
