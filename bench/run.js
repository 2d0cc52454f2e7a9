#!/usr/bin/env node
/**
 * The benchmark driver: liverseg against the same ResUNet in Python PyTorch (the "peer",
 * bench/peer/), side by side on this machine. Run it with `npm run bench` (which builds what is
 * stale first) or directly:
 *
 *   node bench/run.js                    the full suite (about 15-25 min on 2 cores)
 *   node bench/run.js --quick            a smoke test with small sizes (a minute or two)
 *   node bench/run.js --cases forward,train --threads 2
 *
 * Options:
 *   --quick              small sizes, one round; writes bench/results/quick.jsonl, not the docs
 *   --cases a,b,...      parity, forward, train, adam, nifti, segment, scaling, e2e-scaling
 *                        (default: all)
 *   --threads N          intra-op threads on both sides (default: all logical CPUs)
 *   --rounds N           rounds per side-by-side case (default 2; quick 1)
 *   --repeats N          timed runs per round, overriding each case's default
 *   --no-peer            liverseg only (no Python)
 *   --docs / --no-docs   write docs/BENCHMARKS.md (default: yes for full runs, no for --quick)
 *   --out FILE           JSON lines file (default bench/results/latest.jsonl; quick.jsonl)
 *   --python PATH        the peer's interpreter (default /usr/bin/python3, env LIVERSEG_BENCH_PYTHON)
 *   --env KEY=VALUE      extra environment for both sides' processes (repeatable), e.g.
 *                        --env OPENBLAS_NUM_THREADS=1
 *   --from FILE          run nothing: rewrite docs/BENCHMARKS.md from an earlier results file
 *
 * Every measurement runs in a child process of its own (bench/liverseg_case.js or
 * bench/peer/bench_peer.py), so each side's peak RSS is its own. A side-by-side case runs in
 * rounds, the sides alternating (liverseg, peer, then peer, liverseg, ...) so that load from
 * elsewhere on the machine falls on both; each child warms up first, then times its runs.
 *
 * Output: JSON lines on stdout and in the results file (one "machine" line, one "measurement" line
 * per side and case, one "comparison" line per case with the ratios liverseg/peer), and the
 * generated part of docs/BENCHMARKS.md (between its bench:begin/bench:end markers; text outside
 * them is kept).
 */
'use strict';
// Layout (bench/README.md): driver/ holds the driver's parts (options, child processes, the peer,
// statistics, the suite, the output), cases/ the case families, in the order below.
const fs = require('fs');
const os = require('os');
const path = require('path');

const { ROOT, log } = require('./driver/common');
const { parseArgs, plan, want, KNOWN_CASES } = require('./driver/options');
const { ensurePeer } = require('./driver/peer');
const { liversegBackend, machineRecord } = require('./driver/machine');
const { round } = require('./driver/stats');
const { Suite } = require('./driver/suite');
const { DOC, renderMarkdown, renderFromFile, writeDoc } = require('./driver/report');
const { parity } = require('./cases/parity');
const { forward, train, adam, scaling } = require('./cases/network');
const { nifti } = require('./cases/nifti');
const { segment, e2eScaling } = require('./cases/segment');

/** The cases of --cases, in the order they run: each (suite, context) runs and emits its records. */
const CASES = [
  ['parity', parity],
  ['forward', forward],
  ['train', train],
  ['adam', adam],
  ['nifti', nifti],
  ['segment', segment],
  ['scaling', scaling],
  ['e2e-scaling', e2eScaling],
];
if (CASES.map(([name]) => name).join() !== KNOWN_CASES.join()) throw new Error('bench/run.js: CASES and KNOWN_CASES (bench/driver/options.js) differ');

async function main() {
  const o = parseArgs(process.argv.slice(2), __filename);
  if (o.from) {
    writeDoc(renderFromFile(o));
    log(`table: ${path.relative(ROOT, DOC)} (from ${o.from})`);
    return;
  }
  const p = plan(o.quick);
  const rounds = o.rounds || p.rounds;
  const reps = (n) => String(o.repeats || n);
  fs.mkdirSync(path.dirname(o.out), { recursive: true });

  const be = liversegBackend();
  o.peerVersions = o.peer ? ensurePeer(o.python) : null;
  const started = new Date();
  const machine = machineRecord(o, be, started, __filename, process.argv.slice(2));
  const suite = new Suite(o);
  suite.emit(machine);
  const T = String(o.threads);
  const common = ['--threads', T, '--device', 'cpu', '--amp', 'off'];
  const context = { o, p, rounds, reps, T, common };
  for (const [name, run] of CASES) if (want(o, name)) run(suite, context);

  machine.loadavg_end = os.loadavg().map((x) => round(x, 2));
  machine.duration_s = round((Date.now() - started.getTime()) / 1000, 0);
  suite.emit({ kind: 'done', loadavg_end: machine.loadavg_end, duration_s: machine.duration_s });
  await suite.close();
  log(`results: ${path.relative(ROOT, o.out)} (${machine.duration_s} s)`);
  if (o.docs) {
    writeDoc(renderMarkdown(suite, machine));
    log(`table: ${path.relative(ROOT, DOC)}`);
  }
}

main().catch((e) => {
  process.stderr.write(`[bench] ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
