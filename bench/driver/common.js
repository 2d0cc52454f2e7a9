/** What every part of the benchmark driver shares: where things are, and the log. */
'use strict';
const path = require('path');

/** The repository root (the package: `require(ROOT)` is its public entry point). */
const ROOT = path.resolve(__dirname, '..', '..');
/** bench/: the child scripts (liverseg_case.js, parity.js), peer/ and results/. */
const BENCH = path.join(ROOT, 'bench');

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);

module.exports = { ROOT, BENCH, log };
