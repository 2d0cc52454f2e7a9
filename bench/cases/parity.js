/** The parity check (bench/parity.js): the addon's weights in the peer give the same outputs. Needs the peer. */
'use strict';
const path = require('path');
const { ROOT, BENCH, log } = require('../driver/common');
const { sh, childEnv } = require('../driver/children');

function parity(suite, { o }) {
  if (!o.peerVersions) return;
  log('parity: addon weights in the peer, forward + 2 Novograd steps at 32^3');
  const r = sh(process.execPath, [path.join(BENCH, 'parity.js'), '--python', o.python], { env: childEnv(o), cwd: ROOT });
  let rec;
  try {
    rec = JSON.parse(r.stdout.trim().split('\n').pop());
  } catch {
    rec = { check: 'parity', ok: false, error: (r.stderr || r.stdout || '').trim().split('\n').slice(-4).join(' | ') };
  }
  suite.parity = { kind: 'check', ...rec };
  suite.emit(suite.parity);
}

module.exports = { parity };
