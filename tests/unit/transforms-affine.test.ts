import { RandAffined, rotate90 } from '../../src/ts/transforms';
import { affineResample, affineVoxelMap, applyAffineParams, identityAffineParams, randAffineParams } from '../../src/ts/transforms/rand-affine';
import { Rng } from '../../src/ts/util/rng';
import type { Vec3 } from '../../src/ts/volume';
import { at, fromFn, indexVolume, vol, world } from '../helpers/volumes';

const shape: Vec3 = [7, 7, 5];
const img = fromFn(shape, (i, j, k) => Math.sin(i) * 10 + j * j - 3 * k, { spacing: [1, 1, 1], origin: [4, 5, 6] });
const label = vol(
  new Uint8Array(7 * 7 * 5).map((_, n) => (n * 31) % 3),
  shape,
  { origin: [4, 5, 6] },
);

describe('RandAffine', () => {
  test('identity parameters give the input back exactly (trilinear and nearest), affine unchanged', () => {
    const p = identityAffineParams();
    const a = applyAffineParams(img, p, 'bilinear');
    expect(Array.from(a.data)).toEqual(Array.from(img.data));
    expect(a.affine).toEqual(img.affine);
    const b = applyAffineParams(label, p, 'nearest');
    expect(b.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(b.data)).toEqual(Array.from(label.data));
  });

  test('an integer translation shifts voxels and pads with 0', () => {
    const out = applyAffineParams(img, { rotate: [0, 0, 0], scale: [1, 1, 1], translate: [2, 0, -1] });
    for (let k = 0; k < 5; k++)
      for (let j = 0; j < 7; j++)
        for (let i = 0; i < 7; i++) {
          const si = i + 2;
          const sk = k - 1;
          const expected = si < 7 && sk >= 0 ? at(img, si, j, sk) : 0;
          expect(at(out, i, j, k)).toBeCloseTo(expected, 5);
        }
  });

  test('a quarter turn about axis 2 equals rot90 (k = 3 in plane 0, 1) on a square grid', () => {
    const p = { rotate: [0, 0, Math.PI / 2] as Vec3, scale: [1, 1, 1] as Vec3, translate: [0, 0, 0] as Vec3 };
    const n = applyAffineParams(label, p, 'nearest');
    expect(Array.from(n.data)).toEqual(Array.from(rotate90(label, 3, [0, 1]).data));
    const t = applyAffineParams(img, p, 'bilinear');
    const r = rotate90(img, 3, [0, 1]);
    t.data.forEach((x, i) => expect(x).toBeCloseTo(r.data[i], 4));
  });

  test('rotation is rigid in millimetres on anisotropic grids, and the affine tracks the resampling', () => {
    const m = affineVoxelMap({ rotate: [0, 0, Math.PI / 2], scale: [1, 1, 1], translate: [0, 0, 0] }, [9, 9, 9], [1, 2, 1]);
    expect(m[0][1]).toBeCloseTo(-2, 12); // one voxel along j is 2 mm = 2 voxels along i
    expect(m[1][0]).toBeCloseTo(0.5, 12);
    const v = indexVolume([9, 9, 9], { spacing: [1, 2, 1], origin: [1, 2, 3] });
    const out = affineResample(v, m, 'nearest');
    const o: Vec3 = [3, 5, 2];
    const src = [0, 1, 2].map((r) => m[r][0] * o[0] + m[r][1] * o[1] + m[r][2] * o[2] + m[r][3]);
    world(out.affine, ...o).forEach((x, d) => expect(x).toBeCloseTo(world(v.affine, src[0], src[1], src[2])[d], 9));
  });

  test('scaling about the centre keeps the centre voxel; > 1 samples a wider region', () => {
    const v = indexVolume([9, 9, 9]);
    const out = applyAffineParams(v, { rotate: [0, 0, 0], scale: [2, 2, 2], translate: [0, 0, 0] }, 'nearest');
    expect(at(out, 4, 4, 4)).toBe(at(v, 4, 4, 4));
    expect(at(out, 5, 4, 4)).toBe(at(v, 6, 4, 4));
    expect(at(out, 0, 4, 4)).toBe(0); // reads x = -4: outside
  });

  test('matches a voxel-by-voxel reference (trilinear with zero padding, nearest) for random maps', () => {
    const v = fromFn([9, 8, 6], (i, j, k) => Math.cos(i * 0.7) * 5 + j - k * k);
    const [ni, nj, nk] = v.shape;
    const get = (x: number, y: number, z: number) => (x >= 0 && x < ni && y >= 0 && y < nj && z >= 0 && z < nk ? at(v, x, y, z) : 0);
    for (let s = 0; s < 8; s++) {
      const p = randAffineParams(new Rng(s), { prob: 1, rotateRange: 0.6, scaleRange: 0.3, translateRange: 3 })!;
      const m = affineVoxelMap(p, v.shape, v.spacing);
      const lin = affineResample(v, m, 'bilinear');
      const near = affineResample(v, m, 'nearest');
      for (let k = 0; k < nk; k++)
        for (let j = 0; j < nj; j++)
          for (let i = 0; i < ni; i++) {
            const c = [0, 1, 2].map((r) => m[r][0] * i + m[r][1] * j + m[r][2] * k + m[r][3]);
            const f = c.map(Math.floor);
            const w = c.map((x, d) => x - f[d]);
            let ref = 0;
            for (let dz = 0; dz < 2; dz++)
              for (let dy = 0; dy < 2; dy++)
                for (let dx = 0; dx < 2; dx++) {
                  const wt = (dx ? w[0] : 1 - w[0]) * (dy ? w[1] : 1 - w[1]) * (dz ? w[2] : 1 - w[2]);
                  if (wt > 0) ref += wt * get(f[0] + dx, f[1] + dy, f[2] + dz);
                }
            expect(at(lin, i, j, k)).toBeCloseTo(ref, 3);
            const r = c.map((x) => Math.floor(x + 0.5));
            expect(at(near, i, j, k)).toBe(get(r[0], r[1], r[2]));
          }
    }
  });

  test('dictionary form: one draw for all keys, deterministic under a seed, labels stay integers', () => {
    const t = new RandAffined({ keys: ['image', 'label'], prob: 1, rotateRange: [0, 0, 0.5], scaleRange: 0.2, translateRange: 1 });
    const a = t.apply({ image: img, label }, new Rng(3));
    const b = t.apply({ image: img, label }, new Rng(3));
    const c = t.apply({ image: img, label }, new Rng(4));
    expect(Array.from(a.image.data)).toEqual(Array.from(b.image.data));
    expect(Array.from(a.image.data)).not.toEqual(Array.from(c.image.data));
    expect(a.label!.data).toBeInstanceOf(Uint8Array);
    expect(new Set(a.label!.data).size).toBeLessThanOrEqual(3);
    expect(a.label!.affine).toEqual(a.image.affine);
    const never = new RandAffined({ keys: ['image'], prob: 0, rotateRange: 1 });
    expect(never.apply({ image: img }, new Rng(1)).image).toBe(img);
    // Parameters stay within their ranges.
    for (let s = 0; s < 100; s++) {
      const p = randAffineParams(new Rng(s), { prob: 1, rotateRange: 0.3, scaleRange: 0.1, translateRange: 2 })!;
      p.rotate.forEach((x) => expect(Math.abs(x)).toBeLessThanOrEqual(0.3));
      p.scale.forEach((x) => expect(Math.abs(x - 1)).toBeLessThanOrEqual(0.1));
      p.translate.forEach((x) => expect(Math.abs(x)).toBeLessThanOrEqual(2));
    }
  });
});
