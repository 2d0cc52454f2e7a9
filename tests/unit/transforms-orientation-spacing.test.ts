import { orientation, Orientationd, spacing, Spacingd } from '../../src/ts/transforms';
import { axcodes } from '../../src/ts/geometry';
import type { Vec3 } from '../../src/ts/volume';
import { at, indexVolume, vol, world } from '../helpers/volumes';

// An LPS-style scanner grid: i runs to the left, j to the back.
const lps = [
  [-0.7, 0, 0, 150],
  [0, -0.7, 0, 120],
  [0, 0, 3, -400],
  [0, 0, 0, 1],
];

describe('Orientation', () => {
  const v = indexVolume([5, 4, 3], { affine: lps, spacing: [0.7, 0.7, 3] });

  test("'RAS' reorients through io's toCanonical, keeping world positions", () => {
    const r = orientation(v);
    expect(axcodes(r.affine)).toBe('RAS');
    expect(r.shape).toEqual([5, 4, 3]);
    // Voxel (0,0,0) of the RAS volume is the original's (4,3,0), at the same world point.
    expect(at(r, 0, 0, 0)).toBe(at(v, 4, 3, 0));
    world(r.affine, 0, 0, 0).forEach((x, d) => expect(x).toBeCloseTo(world(v.affine, 4, 3, 0)[d], 9));
    expect(orientation(r)).toBe(r);
  });

  test('other codes, e.g. LPS and PLS, by flips and permutations', () => {
    const r = orientation(v, 'RAS');
    const back = orientation(r, 'LPS');
    expect(Array.from(back.data)).toEqual(Array.from(v.data));
    expect(axcodes(back.affine)).toBe('LPS');
    const pls = orientation(v, 'PLS');
    expect(axcodes(pls.affine)).toBe('PLS');
    expect(pls.shape).toEqual([4, 5, 3]);
    expect(pls.spacing).toEqual([0.7, 0.7, 3]);
    expect(() => orientation(v, 'RAX')).toThrow(/unknown letter/);
    expect(() => orientation(v, 'RRS')).toThrow(/twice/);
  });

  test('dictionary form treats image and label alike', () => {
    const label = vol(
      new Uint8Array(60).map((_, n) => n % 2),
      [5, 4, 3],
      { affine: lps, spacing: [0.7, 0.7, 3] },
    );
    const s = new Orientationd({ keys: ['image', 'label'] }).apply({ image: v, label });
    expect(s.label!.affine).toEqual(s.image.affine);
    expect(s.label!.data).toBeInstanceOf(Uint8Array);
    expect(at(s.label!, 0, 0, 0)).toBe(at(label, 4, 3, 0));
  });
});

describe('Spacing', () => {
  test('resamples to the requested voxel size (via io), linear for images, nearest for labels', () => {
    const shape: Vec3 = [9, 9, 5];
    const image = indexVolume(shape, { spacing: [1, 1, 2] });
    const label = vol(
      new Uint8Array(9 * 9 * 5).map((_, n) => n % 3),
      shape,
      { spacing: [1, 1, 2] },
    );
    const s = new Spacingd({ keys: ['image', 'label'], pixdim: [2, 2, 2] }).apply({ image, label });
    expect(s.image.spacing).toEqual([2, 2, 2]);
    expect(s.image.shape).toEqual([5, 5, 5]);
    expect(s.image.data).toBeInstanceOf(Float32Array);
    expect(s.label!.data).toBeInstanceOf(Uint8Array);
    // First voxel centres coincide, so voxel (1,1,1) sits on the source's (2,2,1).
    expect(at(s.image, 1, 1, 1)).toBeCloseTo(at(image, 2, 2, 1), 4);
    expect(at(s.label!, 1, 1, 1)).toBe(at(label, 2, 2, 1));
    expect(spacing(image, { pixdim: [1, 1, 2] })).toBe(image);
    expect(() => new Spacingd({ keys: ['image'], pixdim: [1, 0, 1] })).toThrow(/positive/);
  });
});
