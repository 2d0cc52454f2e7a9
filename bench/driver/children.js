/**
 * Child processes. Every measurement runs in a process of its own (bench/liverseg_case.js or
 * bench/peer/bench_peer.py), so each side's peak RSS is its own; both get the same environment.
 */
'use strict';
const path = require('path');
const { spawnSync } = require('child_process');
const { ROOT, BENCH, log } = require('./common');

const CHILD_TIMEOUT_MS = 30 * 60 * 1000;

function sh(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', ...opts });
}

/** The same environment for both sides: thread counts pinned, plus any --env. */
function childEnv(o) {
  const t = String(o.threads);
  return { ...process.env, OMP_NUM_THREADS: t, MKL_NUM_THREADS: t, LIVERSEG_NUM_THREADS: t, ...o.env };
}

/** Runs one measurement child; returns its JSON record, or { error } when it failed. */
function runChild(side, args, o) {
  const [cmd, argv] =
    side === 'peer' ? [o.python, [path.join(BENCH, 'peer', 'bench_peer.py'), ...args]] : [process.execPath, [path.join(BENCH, 'liverseg_case.js'), ...args]];
  const t0 = Date.now();
  const r = spawnSync(cmd, argv, {
    encoding: 'utf8',
    env: childEnv(o),
    timeout: CHILD_TIMEOUT_MS,
    maxBuffer: 64 << 20,
    cwd: ROOT,
  });
  const wall = (Date.now() - t0) / 1000;
  const lines = (r.stdout || '')
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'));
  if (r.status === 0 && lines.length) {
    const rec = JSON.parse(lines[lines.length - 1]);
    rec.process_wall_s = Math.round(wall * 10) / 10;
    return rec;
  }
  const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
  const tail = (r.stderr || '').trim().split('\n').slice(-6).join(' | ');
  log(`${side} ${args.join(' ')} failed (${why}): ${tail}`);
  return { side, error: `${why}: ${tail}`.slice(0, 600) };
}

module.exports = { CHILD_TIMEOUT_MS, sh, childEnv, runChild };
