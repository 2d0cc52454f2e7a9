/**
 * The end-to-end cases, liverseg only (bench/segment_case.js): segment() of one phantom
 * (segment), and of phantoms with more and more slices (e2e-scaling).
 */
'use strict';
const { log } = require('../driver/common');

function segment(suite, { p, reps, common }) {
  const s = p.segment;
  suite.pair(
    `segment-${s.slices}`,
    { case: 'segment', shape: [s.inPlane, s.inPlane, s.slices] },
    [
      '--case',
      'segment',
      '--slices',
      String(s.slices),
      '--in-plane',
      String(s.inPlane),
      '--window',
      String(s.window),
      ...common,
      '--warmup',
      '0',
      '--repeats',
      reps(s.repeats),
    ],
    { rounds: 1, peer: false },
  );
}

/** Volumes the segment case measured already are not run again; stops at the first skipped one. */
function e2eScaling(suite, { p, reps, common }) {
  const e = p.e2e;
  const seg = suite.byKey.get(`segment-${p.segment.slices}`);
  if (seg && seg.L.skipped) {
    log(`e2e-scaling: skipped (${seg.L.skipped})`);
    return;
  }
  for (const n of e.slices) {
    if (suite.byKey.has(`segment-${n}`) && e.inPlane === p.segment.inPlane) continue;
    const r = suite.pair(
      `segment-${n}`,
      { case: 'segment', shape: [e.inPlane, e.inPlane, n], scaling: true },
      [
        '--case',
        'segment',
        '--slices',
        String(n),
        '--in-plane',
        String(e.inPlane),
        '--window',
        String(e.window),
        ...common,
        '--warmup',
        '0',
        '--repeats',
        reps(e.repeats),
      ],
      { rounds: 1, peer: false },
    );
    if (r.L.skipped) break;
  }
}

module.exports = { segment, e2eScaling };
