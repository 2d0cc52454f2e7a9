import { flip, rotate90, RandFlipd, RandRotate90d } from '../../src/ts/transforms';
import { Rng } from '../../src/ts/util/rng';
import type { Vec3, Volume } from '../../src/ts/volume';
import { at, indexVolume, vol, world } from '../helpers/volumes';

const shape: Vec3 = [4, 3, 2];
const v = indexVolume(shape, { spacing: [0.5, 1, 2], origin: [10, 20, 30] });

function sameWorldValues(a: Volume, b: Volume): void {
  // Every voxel of b holds the value a has at the same world position.
  const [ni, nj, nk] = b.shape;
  for (let k = 0; k < nk; k++)
    for (let j = 0; j < nj; j++)
      for (let i = 0; i < ni; i++) {
        const w = world(b.affine, i, j, k);
        const src = [0, 1, 2].map((d) => Math.round((w[d] - a.affine[d][3]) / a.affine[d][d]));
        expect(at(b, i, j, k)).toBe(at(a, src[0], src[1], src[2]));
      }
}

describe('flip', () => {
  test('mirrors the chosen axes', () => {
    const f = flip(v, 0);
    for (let k = 0; k < 2; k++) for (let j = 0; j < 3; j++) for (let i = 0; i < 4; i++) expect(at(f, i, j, k)).toBe(at(v, 3 - i, j, k));
    const all = flip(v);
    expect(at(all, 0, 0, 0)).toBe(at(v, 3, 2, 1));
    expect(at(flip(v, [1, 2]), 1, 0, 0)).toBe(at(v, 1, 2, 1));
  });

  test('keeps world positions and undoes itself', () => {
    const f = flip(v, [0, 2]);
    sameWorldValues(v, f);
    const back = flip(f, [0, 2]);
    expect(Array.from(back.data)).toEqual(Array.from(v.data));
    back.affine.forEach((r, i) => r.forEach((x, c) => expect(x).toBeCloseTo(v.affine[i][c], 12)));
  });
});

describe('rotate90', () => {
  test('k = 1 in plane (0, 1): out[p, q] = in[q, n1 - 1 - p], shape permuted', () => {
    const r = rotate90(v, 1, [0, 1]);
    expect(r.shape).toEqual([3, 4, 2]);
    expect(r.spacing).toEqual([1, 0.5, 2]);
    for (let k = 0; k < 2; k++) for (let q = 0; q < 4; q++) for (let p = 0; p < 3; p++) expect(at(r, p, q, k)).toBe(at(v, q, 2 - p, k));
  });

  test('k = 2 flips both axes; k = 3 is the inverse of k = 1; four turns are the identity', () => {
    const r2 = rotate90(v, 2, [1, 2]);
    for (let k = 0; k < 2; k++) for (let j = 0; j < 3; j++) for (let i = 0; i < 4; i++) expect(at(r2, i, j, k)).toBe(at(v, i, 2 - j, 1 - k));
    for (const axes of [
      [0, 1],
      [0, 2],
      [1, 2],
      [2, 0],
    ] as [number, number][]) {
      const r1 = rotate90(v, 1, axes);
      sameWorldValues(v, r1);
      expect(Array.from(rotate90(r1, 3, axes).data)).toEqual(Array.from(v.data));
      let x: Volume = v;
      for (let t = 0; t < 4; t++) x = rotate90(x, 1, axes);
      expect(Array.from(x.data)).toEqual(Array.from(v.data));
      expect(x.shape).toEqual(v.shape);
    }
  });
});

describe('random forms', () => {
  const label = vol(
    new Uint8Array(24).map((_, n) => n % 2),
    shape,
  );

  test('RandFlipd: one decision for all keys; flip rate follows prob', () => {
    const t = new RandFlipd({ keys: ['image', 'label'], prob: 0.3, spatialAxis: 0 });
    let flipped = 0;
    for (let s = 0; s < 1000; s++) {
      const out = t.apply({ image: v, label }, new Rng(s));
      const fi = out.image !== v;
      expect(out.label !== label).toBe(fi);
      if (fi) {
        flipped++;
        expect(at(out.label!, 0, 1, 1)).toBe(at(label, 3, 1, 1));
      }
    }
    expect(flipped).toBeGreaterThan(250);
    expect(flipped).toBeLessThan(350);
  });

  test('RandRotate90d: k in 1..maxK, image and label rotated together, deterministic by seed', () => {
    const t = new RandRotate90d({ keys: ['image', 'label'], prob: 1, maxK: 3, spatialAxes: [0, 1] });
    const seen = new Set<string>();
    for (let s = 0; s < 60; s++) {
      const out = t.apply({ image: v, label }, new Rng(s));
      const again = t.apply({ image: v, label }, new Rng(s));
      expect(Array.from(out.image.data)).toEqual(Array.from(again.image.data));
      expect(out.label!.shape).toEqual(out.image.shape);
      sameWorldValues(v, out.image);
      seen.add(Array.from(out.image.data.slice(0, 4)).join());
    }
    expect(seen.size).toBe(3);
  });
});
