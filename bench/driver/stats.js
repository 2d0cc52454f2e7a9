/** Medians, spreads and peaks: one side's rounds merged into one record, and the liverseg/peer comparison. */
'use strict';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n ? (n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2) : null;
};
const round = (x, d = 4) => (x == null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);
const maxOf = (xs) => {
  const v = xs.filter((x) => x != null && Number.isFinite(x));
  return v.length ? Math.max(...v) : null;
};
const minOf = (xs) => {
  const v = xs.filter((x) => x != null && Number.isFinite(x));
  return v.length ? Math.min(...v) : null;
};

/** One side's rounds as one record: all timed runs together, the highest peaks. */
function merge(records, meta) {
  const ok = records.filter((r) => !r.error && !r.skipped);
  const base = { kind: 'measurement', ...meta };
  const skipped = records.find((r) => r.skipped);
  if (!ok.length) {
    const err = records.find((r) => r.error);
    return { ...base, side: meta.side, ...(skipped ? { skipped: skipped.skipped } : {}), ...(err ? { error: err.error } : {}) };
  }
  const times = ok.flatMap((r) => r.times_s);
  const first = ok[0];
  const drop = new Set(['times_s', 'median_s', 'min_s', 'max_s', 'peak_rss_mib', 'base_rss_mib', 'peak_gpu_mib', 'losses', 'process_wall_s', 'tag']);
  const rest = Object.fromEntries(Object.entries(first).filter(([k]) => !drop.has(k)));
  return {
    ...rest,
    ...base,
    times_s: times,
    median_s: round(median(times)),
    min_s: round(Math.min(...times)),
    max_s: round(Math.max(...times)),
    peak_rss_mib: maxOf(ok.map((r) => r.peak_rss_mib)),
    base_rss_mib: minOf(ok.map((r) => r.base_rss_mib)),
    peak_gpu_mib: maxOf(ok.map((r) => r.peak_gpu_mib)),
    processes: ok.length,
    process_wall_s: round(
      ok.reduce((s, r) => s + (r.process_wall_s || 0), 0),
      1,
    ),
    ...(first.losses ? { first_losses: first.losses.slice(0, 4) } : {}),
    ...(records.some((r) => r.error) ? { errors: records.filter((r) => r.error).map((r) => r.error) } : {}),
  };
}

/** The "comparison" record of a case: ratios liverseg / peer of time and memory. */
function compare(meta, L, P) {
  const ratio = (a, b) => (a != null && b != null && b > 0 ? round(a / b, 3) : null);
  const added = (r) => (r && r.peak_rss_mib != null && r.base_rss_mib != null ? r.peak_rss_mib - r.base_rss_mib : null);
  return {
    kind: 'comparison',
    ...meta,
    liverseg_median_s: L ? (L.median_s ?? null) : null,
    peer_median_s: P ? (P.median_s ?? null) : null,
    ratio_time: ratio(L && L.median_s, P && P.median_s),
    speedup: ratio(P && P.median_s, L && L.median_s),
    ratio_peak_rss: ratio(L && L.peak_rss_mib, P && P.peak_rss_mib),
    liverseg_added_rss_mib: round(added(L), 1),
    peer_added_rss_mib: round(added(P), 1),
    ratio_added_rss: ratio(added(L), added(P)),
  };
}

module.exports = { median, round, maxOf, minOf, merge, compare };
