import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LiversegError } from '../../src/ts/errors';
import { loadVolume, saveVolume } from '../../src/ts/io';
import { axcodes, fromCanonical, toCanonical } from '../../src/ts/geometry';
import { Rng } from '../../src/ts/util/rng';
import type { Affine, Vec3, Volume } from '../../src/ts/volume';
import { REPO_ROOT } from '../helpers/nifti-builder';

const CT = path.join(REPO_ROOT, 'tests/fixtures/ct-sample/imagesTr/ct_sample.nii.gz');

const BASE_AFFINE: Affine = [
  [2, 0, 0, -10],
  [0, 3, 0, 5],
  [0, 0, 4, 7],
  [0, 0, 0, 1],
];

function baseVolume(): Volume<Int16Array> {
  const rng = new Rng(3);
  const shape: Vec3 = [5, 4, 3];
  const data = new Int16Array(60);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(20000) - 10000;
  return { data, shape, spacing: [2, 3, 4], affine: BASE_AFFINE.map((r) => [...r]) };
}

function mul(a: Affine, b: Affine): Affine {
  return a.map((row) => [0, 1, 2, 3].map((c) => row.reduce((s, v, k) => s + v * b[k][c], 0)));
}

/**
 * A copy of `v` whose new axis b is old axis perm[b], reversed where flip[b]: built by explicit
 * index arithmetic here, independent of the library's reorientation code.
 */
function variant<T extends Int16Array | Uint8Array>(v: Volume<T>, perm: number[], flip: boolean[]): Volume<T> {
  const S = v.shape;
  const shape = perm.map((p) => S[p]) as Vec3;
  const data = new (v.data.constructor as new (n: number) => T)(v.data.length);
  const t: Affine = [
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 1],
  ];
  for (let b = 0; b < 3; b++) {
    t[perm[b]][b] = flip[b] ? -1 : 1;
    t[perm[b]][3] = flip[b] ? S[perm[b]] - 1 : 0;
  }
  for (let n2 = 0; n2 < shape[2]; n2++) {
    for (let n1 = 0; n1 < shape[1]; n1++) {
      for (let n0 = 0; n0 < shape[0]; n0++) {
        const n = [n0, n1, n2];
        const old = [0, 0, 0];
        for (let b = 0; b < 3; b++) old[perm[b]] = flip[b] ? S[perm[b]] - 1 - n[b] : n[b];
        data[n0 + shape[0] * (n1 + shape[1] * n2)] = v.data[old[0] + S[0] * (old[1] + S[1] * old[2])];
      }
    }
  }
  return { data, shape, spacing: perm.map((p) => v.spacing[p]) as Vec3, affine: mul(v.affine, t) };
}

const PERMS = [
  [0, 1, 2],
  [0, 2, 1],
  [1, 0, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
];
const FLIPS = [0, 1, 2, 3, 4, 5, 6, 7].map((m) => [0, 1, 2].map((b) => ((m >> b) & 1) === 1));

describe('axcodes', () => {
  test('common layouts', () => {
    expect(axcodes(BASE_AFFINE)).toBe('RAS');
    expect(
      axcodes([
        [-1, 0, 0, 0],
        [0, -1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ]),
    ).toBe('LPS');
    // axis 0 runs along +y, axis 1 along -z, axis 2 along +x
    expect(
      axcodes([
        [0, 0, 2, 0],
        [1, 0, 0, 0],
        [0, -3, 0, 0],
        [0, 0, 0, 1],
      ]),
    ).toBe('AIR');
  });

  test('oblique affines take the closest axes', () => {
    const rot = (deg: number): Affine => {
      const r = (deg * Math.PI) / 180;
      return [
        [Math.cos(r) * 0.8, -Math.sin(r) * 0.8, 0, 0],
        [Math.sin(r) * 0.8, Math.cos(r) * 0.8, 0, 0],
        [0, 0, 5, 0],
        [0, 0, 0, 1],
      ];
    };
    expect(axcodes(rot(20))).toBe('RAS');
    expect(axcodes(rot(60))).toBe('ALS');
    expect(axcodes(rot(-150))).toBe('LPS');
  });

  test('a singular affine is ERR_INVALID_ARG', () => {
    expect(() =>
      axcodes([
        [1, 0, 0, 0],
        [0, 0, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ]),
    ).toThrow(LiversegError);
  });
});

describe('toCanonical / fromCanonical', () => {
  const base = baseVolume();
  const cases: [string, number[], boolean[]][] = [];
  for (const p of PERMS) for (const f of FLIPS) cases.push([`perm ${p.join('')} flips ${f.map(Number).join('')}`, p, f]);

  test.each(cases)('%s', (_name, perm, flip) => {
    const v = variant(base, perm, flip);
    const expectedCodes = [0, 1, 2].map((b) => (flip[b] ? 'LPI' : 'RAS')[perm[b]]).join('');
    expect(axcodes(v.affine)).toBe(expectedCodes);

    const { volume: canon, transform } = toCanonical(v);
    expect(axcodes(canon.affine)).toBe('RAS');
    expect(canon.shape).toEqual(base.shape);
    expect(canon.spacing).toEqual(base.spacing);
    expect(Array.from(canon.data)).toEqual(Array.from(base.data));
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(canon.affine[r][c]).toBeCloseTo(BASE_AFFINE[r][c], 12);

    const back = fromCanonical(canon, transform);
    expect(back.shape).toEqual(v.shape);
    expect(back.affine).toEqual(v.affine);
    expect(back.spacing).toEqual(v.spacing);
    expect(Array.from(back.data)).toEqual(Array.from(v.data));
    expect(back.data).toBeInstanceOf(Int16Array);
  });

  test('an already-RAS volume comes back as the same object', () => {
    const { volume } = toCanonical(base);
    expect(volume).toBe(base);
  });

  test('the real CT is RAS; an LPS copy of it canonicalises back to the original voxels', async () => {
    const ct = await loadVolume(CT);
    expect(axcodes(ct.affine)).toBe('RAS');
    expect(toCanonical(ct).volume).toBe(ct);
    const lps = variant(ct as Volume<Int16Array>, [0, 1, 2], [true, true, false]);
    expect(axcodes(lps.affine)).toBe('LPS');
    const { volume: canon, transform } = toCanonical(lps);
    expect(Buffer.from(canon.data.buffer).equals(Buffer.from(ct.data.buffer))).toBe(true);
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(canon.affine[r][c]).toBeCloseTo(ct.affine[r][c], 9);
    const back = fromCanonical(canon, transform);
    expect(back.affine).toEqual(lps.affine);
    expect(Buffer.from(back.data.buffer).equals(Buffer.from(lps.data.buffer))).toBe(true);
  });

  test('a mask predicted in canonical space goes back with the original header, exactly', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'liverseg-orient-'));
    try {
      const v = variant(base, [2, 0, 1], [true, false, true]);
      const p = path.join(dir, 'psr.nii.gz');
      await saveVolume(p, v);
      const loaded = await loadVolume(p);
      const { volume: canon, transform } = toCanonical(loaded);
      // The canonical volume carries a header rebuilt for its own geometry, so it saves and reloads consistently.
      const pc = path.join(dir, 'canon.nii');
      await saveVolume(pc, canon);
      const reloaded = await loadVolume(pc);
      for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(reloaded.affine[r][c]).toBeCloseTo(canon.affine[r][c], 5);

      const mask: Volume<Uint8Array> = {
        data: Uint8Array.from(canon.data, (x) => (x > 0 ? 1 : 0)),
        shape: canon.shape,
        spacing: canon.spacing,
        affine: canon.affine,
      };
      const back = fromCanonical(mask, transform);
      expect(back.header).toBe(loaded.header);
      expect(back.affine).toEqual(loaded.affine);
      expect(Array.from(back.data)).toEqual(Array.from(loaded.data, (x) => (x > 0 ? 1 : 0)));
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  test('fromCanonical refuses a volume of another shape', () => {
    const v = variant(base, [1, 0, 2], [false, false, false]);
    const { transform } = toCanonical(v);
    const wrong: Volume = { data: new Int16Array(60), shape: [4, 5, 3], spacing: [1, 1, 1], affine: BASE_AFFINE };
    expect(() => fromCanonical(wrong, transform)).toThrow(expect.objectContaining({ code: 'ERR_SHAPE_MISMATCH' }));
  });
});
