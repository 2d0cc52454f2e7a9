/** The driver's command line (documented at the top of bench/run.js, which --help prints) and the sizes it runs. */
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { BENCH } = require('./common');

/** Case names of --cases, in the order the driver runs them. */
const KNOWN_CASES = ['parity', 'forward', 'train', 'adam', 'nifti', 'segment', 'scaling', 'e2e-scaling'];

/** Parses the driver's arguments; `helpFile` is the script whose leading comment --help prints. */
function parseArgs(argv, helpFile) {
  const o = {
    quick: false,
    cases: null,
    threads: os.cpus().length,
    rounds: null,
    repeats: null,
    peer: true,
    docs: null,
    out: null,
    python: process.env.LIVERSEG_BENCH_PYTHON || '/usr/bin/python3',
    env: {},
    from: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    const name = arg.split('=')[0];
    switch (name) {
      case '--quick':
        o.quick = true;
        break;
      case '--cases':
        o.cases = value()
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        break;
      case '--threads':
        o.threads = Number(value());
        break;
      case '--rounds':
        o.rounds = Number(value());
        break;
      case '--repeats':
        o.repeats = Number(value());
        break;
      case '--no-peer':
        o.peer = false;
        break;
      case '--docs':
        o.docs = true;
        break;
      case '--no-docs':
        o.docs = false;
        break;
      case '--out':
        o.out = path.resolve(value());
        break;
      case '--python':
        o.python = value();
        break;
      case '--from':
        o.from = path.resolve(value());
        break;
      case '--env': {
        const kv = value();
        const eq = kv.indexOf('=');
        if (eq < 1) throw new Error(`--env expects KEY=VALUE, got '${kv}'`);
        o.env[kv.slice(0, eq)] = kv.slice(eq + 1);
        break;
      }
      case '-h':
      case '--help':
        process.stdout.write(
          fs
            .readFileSync(helpFile, 'utf8')
            .split('*/')[0]
            .replace(/^#!.*\n\/\*\*\n/, '')
            .replace(/^ \* ?/gm, ''),
        );
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${arg} (see --help)`);
    }
  }
  for (const c of o.cases || []) if (!KNOWN_CASES.includes(c)) throw new Error(`unknown case '${c}' (known: ${KNOWN_CASES.join(', ')})`);
  if (!Number.isInteger(o.threads) || o.threads < 1) throw new Error('--threads must be a positive integer');
  if (o.docs === null) o.docs = !o.quick;
  if (!o.out) o.out = path.join(BENCH, 'results', o.quick ? 'quick.jsonl' : 'latest.jsonl');
  return o;
}

/** Whether --cases selects `name` (all are selected without --cases). */
function want(o, name) {
  return !o.cases || o.cases.includes(name);
}

/** Sizes and repeat counts. Each entry: [size, timed runs per round]. */
function plan(quick) {
  if (quick) {
    return {
      rounds: 1,
      forward: [[48, 2]],
      train: [[32, 2]],
      adam: [[32, 2]],
      nifti: { shape: [256, 256, 40], repeats: 2 },
      segment: { slices: 32, inPlane: 256, window: 64, repeats: 1 },
      scaling: [
        [32, 2],
        [48, 2],
        [64, 2],
      ],
      scalingPeer: true,
      e2e: { slices: [16, 32], inPlane: 256, window: 64, repeats: 1 },
    };
  }
  return {
    rounds: 2,
    forward: [
      [96, 3],
      [128, 3],
    ],
    train: [
      [64, 3],
      [96, 2],
    ],
    adam: [[64, 3]],
    nifti: { shape: [512, 512, 200], repeats: 3 },
    segment: { slices: 200, inPlane: 512, window: 128, repeats: 2 },
    // One round each; 96 and 128 come from the forward case.
    scaling: [
      [64, 3],
      [96, 3],
      [128, 3],
      [160, 2],
      [192, 2],
    ],
    scalingPeer: true,
    e2e: { slices: [50, 100, 200, 300], inPlane: 512, window: 128, repeats: 2 },
  };
}

module.exports = { KNOWN_CASES, parseArgs, want, plan };
