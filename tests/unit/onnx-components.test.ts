/**
 * The TypeScript connected components of the no-addon path (nets/backends/components.ts) against a
 * plain flood-fill reference: MONAI's KeepLargestConnectedComponent (26-connectivity by default,
 * each value on its own, ties to the component met last in a C-order scan over [i, j, k]) and the
 * addon's labelling (1..n by decreasing size). tests/native/onnx-engine.test.ts holds them to the addon.
 */
import { labelComponentsTs, largestComponentTs } from '../../src/ts/nets/backends/components';
import type { Vec3 } from '../../src/ts/volume';

/** Flood fill over 6/18/26 neighbours; components of one value; C-order over [i, j, k] (i slowest) for ties. */
function reference(mask: Uint8Array, shape: Vec3, connectivity: 6 | 18 | 26): Uint8Array {
  const [ni, nj, nk] = shape;
  const at = (i: number, j: number, k: number) => (k * nj + j) * ni + i;
  const comp = new Int32Array(mask.length).fill(-1);
  const sizes: number[] = [];
  const firsts: number[] = [];
  const values: number[] = [];
  const offsets: Vec3[] = [];
  for (let di = -1; di <= 1; di++)
    for (let dj = -1; dj <= 1; dj++)
      for (let dk = -1; dk <= 1; dk++) {
        const d = Math.abs(di) + Math.abs(dj) + Math.abs(dk);
        if (d > 0 && d <= (connectivity === 6 ? 1 : connectivity === 18 ? 2 : 3)) offsets.push([di, dj, dk]);
      }
  // visit in C order over [i, j, k]: the first voxel of each component is where MONAI's scan meets it
  for (let i = 0; i < ni; i++)
    for (let j = 0; j < nj; j++)
      for (let k = 0; k < nk; k++) {
        const p = at(i, j, k);
        if (mask[p] === 0 || comp[p] >= 0) continue;
        const c = sizes.length;
        sizes.push(0);
        firsts.push((i * nj + j) * nk + k);
        values.push(mask[p]);
        const stack: Vec3[] = [[i, j, k]];
        comp[p] = c;
        while (stack.length) {
          const [a, b, e] = stack.pop()!;
          sizes[c]++;
          for (const [di, dj, dk] of offsets) {
            const x = a + di,
              y = b + dj,
              z = e + dk;
            if (x < 0 || y < 0 || z < 0 || x >= ni || y >= nj || z >= nk) continue;
            const q = at(x, y, z);
            if (mask[q] !== mask[p] || comp[q] >= 0) continue;
            comp[q] = c;
            stack.push([x, y, z]);
          }
        }
      }
  const best = new Map<number, number>();
  sizes.forEach((s, c) => {
    const b = best.get(values[c]);
    if (b === undefined || s > sizes[b] || (s === sizes[b] && firsts[c] > firsts[b])) best.set(values[c], c);
  });
  const kept = new Set(best.values());
  return Uint8Array.from(mask, (v, p) => (v && kept.has(comp[p]) ? v : 0));
}

function randomMask(shape: Vec3, seed: number, density: number, values = 1): Uint8Array {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  return Uint8Array.from({ length: shape[0] * shape[1] * shape[2] }, () => (u() < density ? 1 + Math.floor(u() * values) : 0));
}

function ball(shape: Vec3, c: Vec3, r: number, into?: Uint8Array, value = 1): Uint8Array {
  const [ni, nj, nk] = shape;
  const m = into ?? new Uint8Array(ni * nj * nk);
  for (let k = 0; k < nk; k++)
    for (let j = 0; j < nj; j++)
      for (let i = 0; i < ni; i++) if ((i - c[0]) ** 2 + (j - c[1]) ** 2 + (k - c[2]) ** 2 <= r * r) m[(k * nj + j) * ni + i] = value;
  return m;
}

describe('largest connected component in TypeScript', () => {
  it.each([6, 18, 26] as const)('equals a flood-fill reference on random masks (%i-connectivity)', (conn) => {
    for (let seed = 1; seed <= 12; seed++) {
      const shape: Vec3 = [7 + (seed % 5), 6 + (seed % 3), 5 + (seed % 4)];
      const mask = randomMask(shape, seed, 0.15 + 0.03 * (seed % 5), seed % 3 === 0 ? 3 : 1);
      const got = largestComponentTs(mask, shape, conn);
      expect(Buffer.from(got.mask).equals(Buffer.from(reference(mask, shape, conn)))).toBe(true);
      expect(got.keptVoxels).toBe(got.mask.reduce((n, v) => n + (v ? 1 : 0), 0));
    }
  });

  it("keeps MONAI's choice on a tie: the component met last scanning i slowest, k fastest", () => {
    const shape: Vec3 = [12, 6, 12];
    // a: low i, high k; b: high i, low k. A k-slowest scan meets b first; MONAI's [i, j, k] scan meets a first, b last.
    const m = ball(shape, [2, 3, 9], 1.5);
    ball(shape, [9, 3, 2], 1.5, m);
    const got = largestComponentTs(m, shape);
    expect(got.components).toBe(2);
    const kept = (i: number, j: number, k: number) => got.mask[(k * 6 + j) * 12 + i];
    expect(kept(9, 3, 2)).toBe(1);
    expect(kept(2, 3, 9)).toBe(0);
  });

  it('counts diagonal contact as connected only where the connectivity allows it', () => {
    const shape: Vec3 = [3, 3, 3];
    const m = new Uint8Array(27);
    m[0] = 1; // (0,0,0)
    m[13] = 1; // (1,1,1): a corner neighbour
    m[26] = 1; // (2,2,2)
    expect(largestComponentTs(m, shape, 26).keptVoxels).toBe(3);
    expect(largestComponentTs(m, shape, 18).keptVoxels).toBe(1);
    const edge = new Uint8Array(27);
    edge[0] = 1;
    edge[4] = 1; // (1,1,0): an edge neighbour
    expect(largestComponentTs(edge, shape, 18).keptVoxels).toBe(2);
    expect(largestComponentTs(edge, shape, 6).keptVoxels).toBe(1);
  });

  it('keeps the largest component of each value, values unchanged; an empty mask stays empty', () => {
    const shape: Vec3 = [16, 8, 8];
    const m = ball(shape, [3, 4, 4], 2);
    ball(shape, [12, 4, 4], 1, m);
    ball(shape, [8, 1, 1], 0.5, m, 2);
    ball(shape, [8, 6, 6], 1, m, 2);
    const got = largestComponentTs(m, shape);
    expect(got.components).toBe(4);
    expect(new Set(got.mask)).toEqual(new Set([0, 1, 2]));
    expect(got.mask[(4 * 8 + 4) * 16 + 12]).toBe(0);
    expect(got.mask[(6 * 8 + 6) * 16 + 8]).toBe(2);
    expect(largestComponentTs(new Uint8Array(16 * 64), shape)).toEqual({ mask: new Uint8Array(16 * 64), components: 0, keptVoxels: 0 });
    expect(() => largestComponentTs(m, [4, 4, 4])).toThrow(expect.objectContaining({ code: 'ERR_SHAPE_MISMATCH' }));
    expect(() => largestComponentTs(m, shape, 4 as never)).toThrow(/connectivity/);
  });
});

describe('component labels in TypeScript', () => {
  it('labels 1..n by decreasing size, equal sizes in k, j, i order of their first run', () => {
    const shape: Vec3 = [12, 12, 6];
    const m = ball(shape, [3, 3, 2], 1); // 7 voxels (after the others in scan order)
    ball(shape, [9, 9, 2], 1.5, m); // 19
    ball(shape, [9, 3, 1], 1, m); // 7, first met (lower k)
    m[(5 * 12 + 11) * 12 + 0] = 1; // 1 voxel, values above 1 count as foreground too
    m[(5 * 12 + 0) * 12 + 11] = 3;
    const { labels, sizes } = labelComponentsTs(m, shape);
    expect(sizes).toEqual([19, 7, 7, 1, 1]);
    const at = (i: number, j: number, k: number) => labels[(k * 12 + j) * 12 + i];
    expect(at(9, 9, 2)).toBe(1);
    expect(at(9, 3, 1)).toBe(2);
    expect(at(3, 3, 2)).toBe(3);
    expect(at(11, 0, 5)).toBe(4);
    expect(at(0, 11, 5)).toBe(5);
    for (let p = 0; p < m.length; p++) expect(labels[p] > 0).toBe(m[p] > 0);
  });
});
