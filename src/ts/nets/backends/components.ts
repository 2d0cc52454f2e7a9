/**
 * Connected components in TypeScript, for inference without the addon: the algorithms of
 * cpp/core/ops/components.cc (keep_largest_component, label_components), step for step, so both
 * give the same masks and labels.
 *
 * Voxels are grouped into runs along i (per row: k * nj + j); runs of the same value in touching
 * rows (the previous row of the slice and the three rows of the previous slice) are joined with
 * union-find. Each non-zero value keeps its own largest component (MONAI's
 * KeepLargestConnectedComponent with independent=True, num_components=1). Ties between equal sizes
 * follow MONAI: it ranks components by argsort(bincount(labels))[::-1], labels numbered in C order
 * over [i, j, k] (i slowest, k fastest), so of equal sizes the component met LAST in that scan wins.
 */
import { invalidArg } from '../../errors';
import type { Vec3 } from '../../volume';

export type Connectivity = 6 | 18 | 26;

export interface LargestComponentResult {
  mask: Uint8Array;
  /** Components found (over all values). */
  components: number;
  /** Voxels kept. */
  keptVoxels: number;
}

class Int32Buffer {
  data = new Int32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Int32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
}

function find(parent: Int32Array, x: number): number {
  while (parent[x] !== x) {
    parent[x] = parent[parent[x]];
    x = parent[x];
  }
  return x;
}

interface UnionRuns {
  /** Runs along i: [start, end), row (k * nj + j) and voxel value (1 for all when values are not told apart). */
  st: Int32Array;
  en: Int32Array;
  row: Int32Array;
  value: Uint8Array;
  n: number;
  /** Union-find parents: a component's root is its first run. */
  parent: Int32Array;
}

/** find_runs + union_runs of components.cc: runs along i, joined across touching rows (same value when `byValue`). */
function unionRuns(mask: Uint8Array, shape: Vec3, connectivity: Connectivity, byValue: boolean): UnionRuns {
  if (connectivity !== 6 && connectivity !== 18 && connectivity !== 26) throw invalidArg('connectivity', `expected 6, 18 or 26, got ${String(connectivity)}`);
  const [ni, nj, nk] = shape;
  if (mask.length !== ni * nj * nk)
    throw invalidArg('mask', `has ${mask.length} voxels, expected ${ni * nj * nk} for shape ${shape.join('x')}`, 'ERR_SHAPE_MISMATCH');
  const rows = nj * nk;
  const rowFirst = new Int32Array(rows + 1);
  const starts = new Int32Buffer();
  const ends = new Int32Buffer();
  const runRow = new Int32Buffer();
  for (let row = 0; row < rows; row++) {
    rowFirst[row] = starts.length;
    const base = row * ni;
    let i = 0;
    while (i < ni) {
      while (i < ni && mask[base + i] === 0) i++;
      if (i === ni) break;
      const s = i;
      const v = mask[base + i];
      if (byValue) while (i < ni && mask[base + i] === v) i++;
      else while (i < ni && mask[base + i] !== 0) i++;
      starts.push(s);
      ends.push(i);
      runRow.push(row);
    }
  }
  rowFirst[rows] = starts.length;
  const n = starts.length;
  const st = starts.data.subarray(0, n),
    en = ends.data.subarray(0, n),
    rr = runRow.data.subarray(0, n);
  const value = new Uint8Array(n);
  for (let r = 0; r < n; r++) value[r] = byValue ? mask[rr[r] * ni + st[r]] : 1;
  const parent = new Int32Array(n);
  for (let r = 0; r < n; r++) parent[r] = r;

  const joinRows = (rowA: number, rowB: number, diagonal: boolean): void => {
    const ea = rowFirst[rowA + 1];
    let ib = rowFirst[rowB];
    const eb = rowFirst[rowB + 1];
    const reach = diagonal ? 1 : 0;
    for (let ia = rowFirst[rowA]; ia < ea; ia++) {
      const aStart = st[ia],
        aEnd = en[ia],
        aValue = value[ia];
      while (ib < eb && en[ib] + reach <= aStart) ib++;
      for (let jb = ib; jb < eb && st[jb] < aEnd + reach; jb++) {
        if (value[jb] !== aValue) continue;
        const ra = find(parent, ia),
          rb = find(parent, jb);
        if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
      }
    }
  };
  for (let k = 0; k < nk; k++) {
    for (let j = 0; j < nj; j++) {
      const row = k * nj + j;
      if (rowFirst[row] === rowFirst[row + 1]) continue;
      // Earlier neighbours only: (j - 1, k) and the three rows of the previous slice.
      for (let dk = -1; dk <= 0; dk++) {
        for (let dj = -1; dj <= 1; dj++) {
          if (dk === 0 && dj >= 0) continue;
          const kk = k + dk,
            jj = j + dj;
          if (kk < 0 || jj < 0 || jj >= nj) continue;
          const offsets = (dk !== 0 ? 1 : 0) + (dj !== 0 ? 1 : 0);
          if (connectivity === 6 && offsets === 2) continue;
          // i-diagonal contact adds one more differing axis: allowed when the total stays within reach.
          joinRows(row, kk * nj + jj, connectivity === 26 || (connectivity === 18 && offsets === 1));
        }
      }
    }
  }
  return { st, en, row: rr, value, n, parent };
}

/**
 * Keeps, for each non-zero value, its largest connected component; `mask` is [ni, nj, nk] in NIfTI
 * order (i fastest). Returns a new mask. Same result as the addon's largestComponent().
 */
export function largestComponentTs(mask: Uint8Array, shape: Vec3, connectivity: Connectivity = 26): LargestComponentResult {
  const [, nj, nk] = shape;
  const ni = shape[0];
  const { st, en, row: rr, value, n, parent } = unionRuns(mask, shape, connectivity, true);
  // Per component (by root run): size, and its first voxel in MONAI's C-order scan over [i, j, k].
  const size = new Float64Array(n);
  const first = new Float64Array(n).fill(Infinity);
  let components = 0;
  for (let r = 0; r < n; r++) {
    const root = find(parent, r);
    size[root] += en[r] - st[r];
    const j = rr[r] % nj,
      k = (rr[r] - j) / nj;
    const f = (st[r] * nj + j) * nk + k;
    if (f < first[root]) first[root] = f;
    if (root === r) components++;
  }
  const best = new Int32Array(256).fill(-1);
  for (let r = 0; r < n; r++) {
    if (parent[r] !== r) continue;
    const v = value[r];
    const b = best[v];
    if (b < 0 || size[r] > size[b] || (size[r] === size[b] && first[r] > first[b])) best[v] = r;
  }
  let keptVoxels = 0;
  for (let v = 1; v < 256; v++) if (best[v] >= 0) keptVoxels += size[best[v]];
  const out = new Uint8Array(mask.length);
  for (let r = 0; r < n; r++) {
    const v = value[r];
    if (find(parent, r) !== best[v]) continue;
    const base = rr[r] * ni;
    out.fill(v, base + st[r], base + en[r]);
  }
  return { mask: out, components, keptVoxels };
}

/**
 * Labels the connected components of the non-zero voxels 1..n by decreasing size (equal sizes in
 * the order of their first run: k, then j, then i), as the addon's labelComponents(); `sizes[l - 1]`
 * is label l's voxel count.
 */
export function labelComponentsTs(mask: Uint8Array, shape: Vec3, connectivity: Connectivity = 26): { labels: Int32Array; sizes: number[] } {
  const ni = shape[0];
  const { st, en, row: rr, n, parent } = unionRuns(mask, shape, connectivity, false);
  const size = new Float64Array(n);
  for (let r = 0; r < n; r++) size[find(parent, r)] += en[r] - st[r];
  const roots: number[] = [];
  for (let r = 0; r < n; r++) if (parent[r] === r) roots.push(r);
  // Array.prototype.sort is stable: equal sizes keep their run order, as std::stable_sort does.
  roots.sort((a, b) => size[b] - size[a]);
  const id = new Int32Array(n);
  roots.forEach((r, rank) => (id[r] = rank + 1));
  const labels = new Int32Array(mask.length);
  for (let r = 0; r < n; r++) {
    const base = rr[r] * ni;
    labels.fill(id[find(parent, r)], base + st[r], base + en[r]);
  }
  return { labels, sizes: roots.map((r) => size[r]) };
}
