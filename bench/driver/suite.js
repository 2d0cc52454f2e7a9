/**
 * The suite's state: every record emitted so far, the side-by-side cases by key, and the one
 * operation the cases share, {@link Suite#pair}: run a case on both sides in alternating rounds.
 */
'use strict';
const { log } = require('./common');
const { runChild } = require('./children');
const { merge, compare } = require('./stats');
const { JsonLines } = require('./report');

class Suite {
  constructor(o) {
    this.o = o;
    this.lines = [];
    this.byKey = new Map();
    this.notes = [];
    this.out = new JsonLines(o.out);
  }

  /** Writes one record as a JSON line to stdout and the results file. */
  emit(rec) {
    this.out.write(rec);
    this.lines.push(rec);
  }

  /** Flushes and closes the results file. */
  close() {
    return this.out.end();
  }

  /**
   * One side-by-side case: `rounds` rounds, sides alternating; `args` the child arguments.
   * `peer` false runs liverseg alone. Stores and emits the two measurements and the comparison.
   */
  pair(key, meta, args, { rounds, peer = true }) {
    const sides = peer && this.o.peerVersions ? ['liverseg', 'peer'] : ['liverseg'];
    const recs = { liverseg: [], peer: [] };
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) {
        log(`${key}: ${side} (round ${r + 1}/${rounds})`);
        const rec = runChild(side, [...args, '--tag', key], this.o);
        recs[side].push(rec);
        if (rec.skipped) break;
        if (!rec.error) log(`  median ${rec.median_s} s [${rec.times_s.join(', ')}], peak RSS ${rec.peak_rss_mib} MiB`);
      }
      if (recs.liverseg.some((x) => x.skipped)) break;
    }
    const L = merge(recs.liverseg, { ...meta, side: 'liverseg', key });
    this.emit(L);
    let P = null;
    if (sides.includes('peer') && recs.peer.length) {
      P = merge(recs.peer, { ...meta, side: 'peer', key });
      this.emit(P);
    }
    const C = compare({ ...meta, key }, L.error || L.skipped ? null : L, P && !P.error ? P : null);
    if (P) this.emit(C);
    this.byKey.set(key, { L, P, C, meta });
    return { L, P, C };
  }
}

module.exports = { Suite };
