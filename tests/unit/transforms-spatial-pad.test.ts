import { spatialPad, SpatialPadd } from '../../src/ts/transforms';
import { spatialPadBefore } from '../../src/ts/transforms/spatial-pad';
import { at, indexVolume, vol, world } from '../helpers/volumes';

describe('SpatialPad', () => {
  const v = indexVolume([3, 2, 1], { spacing: [2, 3, 4], origin: [10, 20, 30] });

  test('pads floor(w/2) before and the rest after, with zeros', () => {
    expect(spatialPadBefore([3, 2, 1], { size: [6, 2, 4] })).toEqual([1, 0, 1]);
    const p = spatialPad(v, { size: [6, 2, 4] });
    expect(p.shape).toEqual([6, 2, 4]);
    // Original voxel (i, j, 0) lands at (i + 1, j, 1); the rest is zero.
    let nonZero = 0;
    for (let k = 0; k < 4; k++)
      for (let j = 0; j < 2; j++)
        for (let i = 0; i < 6; i++) {
          const inside = i >= 1 && i <= 3 && k === 1;
          const x = at(p, i, j, k);
          if (inside) expect(x).toBe(at(v, i - 1, j, 0));
          else expect(x).toBe(0);
          if (x !== 0) nonZero++;
        }
    expect(nonZero).toBe(5); // value 0 at the original (0,0,0) is indistinguishable from padding
  });

  test('moves the origin so every original voxel keeps its world position', () => {
    const p = spatialPad(v, { size: [6, 5, 4] });
    expect(world(p.affine, 1, 1, 1)).toEqual(world(v.affine, 0, 0, 0));
    expect(world(p.affine, 3, 2, 1)).toEqual(world(v.affine, 2, 1, 0));
    expect(p.spacing).toEqual([2, 3, 4]);
  });

  test("'end' pads after only; a custom value fills the padding", () => {
    const p = spatialPad(v, { size: [5, 2, 1], method: 'end', value: -7 });
    expect(Array.from(p.data)).toEqual([0, 1, 2, -7, -7, 3, 4, 5, -7, -7]);
  });

  test('never crops: larger axes stay, and an already large volume comes back as is', () => {
    expect(spatialPad(v, { size: [2, 2, 1] })).toBe(v);
    const p = spatialPad(v, { size: [1, 4, 1] });
    expect(p.shape).toEqual([3, 4, 1]);
  });

  test('dictionary form pads image and label alike and keeps the label type', () => {
    const label = vol(new Uint8Array([0, 1, 1, 0, 1, 0]), [3, 2, 1]);
    const s = new SpatialPadd({ keys: ['image', 'label'], size: [4, 4, 4] }).apply({ image: v, label });
    expect(s.image.shape).toEqual([4, 4, 4]);
    expect(s.label!.shape).toEqual([4, 4, 4]);
    expect(s.label!.data).toBeInstanceOf(Uint8Array);
    // Padding before is [0, 1, 1]: label (i, j, 0) lands at (i, j + 1, 1).
    for (let j = 0; j < 2; j++) for (let i = 0; i < 3; i++) expect(at(s.label!, i, j + 1, 1)).toBe(at(label, i, j, 0));
    expect(Array.from(s.label!.data).reduce((a, b) => a + b, 0)).toBe(3);
  });
});
