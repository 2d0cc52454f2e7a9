/**
 * The network cases, side by side with the peer: ResUNet inference (forward), training steps with
 * Novograd (train) and Adam (adam), and inference time against volume size (scaling).
 */
'use strict';

function forward(suite, { p, rounds, reps, common }) {
  for (const [s, n] of p.forward) {
    suite.pair(
      `forward-${s}`,
      { case: 'forward', size: s, batch: 1 },
      ['--case', 'forward', '--size', String(s), ...common, '--warmup', '1', '--repeats', reps(n)],
      { rounds },
    );
  }
}

function train(suite, { p, rounds, reps, common }) {
  for (const [s, n] of p.train) {
    suite.pair(
      `train-${s}`,
      { case: 'train', optimizer: 'novograd', size: s, batch: 1 },
      ['--case', 'train', '--optimizer', 'novograd', '--size', String(s), ...common, '--warmup', '1', '--repeats', reps(n)],
      { rounds },
    );
  }
}

function adam(suite, { p, rounds, reps, common }) {
  for (const [s, n] of p.adam) {
    suite.pair(
      `train-adam-${s}`,
      { case: 'train', optimizer: 'adam', size: s, batch: 1 },
      ['--case', 'train', '--optimizer', 'adam', '--size', String(s), ...common, '--warmup', '1', '--repeats', reps(n)],
      { rounds },
    );
  }
}

/** One round per size; sizes the forward case measured already are not run again. */
function scaling(suite, { p, reps, common }) {
  for (const [s, n] of p.scaling) {
    if (suite.byKey.has(`forward-${s}`)) continue;
    suite.pair(
      `scaling-forward-${s}`,
      { case: 'forward', size: s, batch: 1, scaling: true },
      ['--case', 'forward', '--size', String(s), ...common, '--warmup', '1', '--repeats', reps(n)],
      {
        rounds: 1,
        peer: p.scalingPeer,
      },
    );
  }
}

module.exports = { forward, train, adam, scaling };
