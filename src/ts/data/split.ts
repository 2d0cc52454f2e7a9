/** Train/validation splits that depend only on case names and a seed. */
import { invalidArg, describeValue } from '../errors';
import { Rng } from '../util/rng';

/** How to split: a random fraction, an explicit validation list, or one fold of k. */
export type SplitOptions =
  | { /** Fraction of cases for validation (rounded, at least 1 and at most n - 1 when 0 < valRatio < 1). */ valRatio: number; seed?: number }
  | { /** Names of the validation cases. */ val: readonly string[] }
  | { /** Number of folds (2..n). */ folds: number; /** Which fold (0-based) is validation. */ fold: number; seed?: number };

/** A split: both lists keep the input order. */
export interface Split<T> {
  train: T[];
  val: T[];
}

/** Case indices sorted by name, then shuffled by `seed`: independent of the order of the input list. */
function shuffledByName(names: string[], seed: number): number[] {
  const idx = names.map((_, i) => i).sort((a, b) => (names[a] < names[b] ? -1 : names[a] > names[b] ? 1 : 0));
  return new Rng(seed).shuffle(idx);
}

/**
 * Splits cases deterministically. The same names and seed give the same split whatever order the
 * cases are listed in; train and val are disjoint and together hold every case. k folds partition
 * the shuffled cases into contiguous chunks (sizes differ by at most one, as scikit-learn's KFold).
 */
export function splitCases<T extends { name: string }>(cases: readonly T[], opts: SplitOptions): Split<T> {
  if (!Array.isArray(cases)) throw invalidArg('cases', `expected an array, got ${describeValue(cases)}`);
  const names = cases.map((c) => c.name);
  const seen = new Set<string>();
  for (const n of names) {
    if (typeof n !== 'string') throw invalidArg('cases', 'every case needs a string name');
    if (seen.has(n)) throw invalidArg('cases', `case name '${n}' appears twice`, 'ERR_DATASET');
    seen.add(n);
  }
  const n = cases.length;
  const isVal = new Array<boolean>(n).fill(false);
  if ('val' in opts) {
    if (!Array.isArray(opts.val)) throw invalidArg('val', `expected a list of case names, got ${describeValue(opts.val)}`);
    const index = new Map(names.map((nm, i) => [nm, i]));
    for (const nm of opts.val) {
      const i = index.get(nm);
      if (i === undefined) throw invalidArg('val', `no case named '${nm}'`);
      isVal[i] = true;
    }
  } else if ('folds' in opts) {
    const { folds, fold } = opts;
    if (!Number.isInteger(folds) || folds < 2 || folds > n)
      throw invalidArg('folds', `expected an integer in 2..${n} (the number of cases), got ${describeValue(folds)}`);
    if (!Number.isInteger(fold) || fold < 0 || fold >= folds) throw invalidArg('fold', `expected an integer in 0..${folds - 1}, got ${describeValue(fold)}`);
    const order = shuffledByName(names, opts.seed ?? 0);
    const base = Math.floor(n / folds);
    const extra = n % folds;
    let start = 0;
    for (let f = 0; f < fold; f++) start += base + (f < extra ? 1 : 0);
    const size = base + (fold < extra ? 1 : 0);
    for (let p = start; p < start + size; p++) isVal[order[p]] = true;
  } else if ('valRatio' in opts) {
    const r = opts.valRatio;
    if (typeof r !== 'number' || !(r >= 0 && r <= 1)) throw invalidArg('valRatio', `expected a number in [0, 1], got ${describeValue(r)}`);
    let nVal = Math.round(n * r);
    if (r > 0 && r < 1 && n >= 2) nVal = Math.min(n - 1, Math.max(1, nVal));
    const order = shuffledByName(names, opts.seed ?? 0);
    for (let p = 0; p < nVal; p++) isVal[order[p]] = true;
  } else {
    throw invalidArg('opts', 'expected { valRatio, seed }, { val: [...] } or { folds, fold, seed }');
  }
  const out: Split<T> = { train: [], val: [] };
  cases.forEach((c, i) => (isVal[i] ? out.val : out.train).push(c));
  return out;
}
