import { cropForeground, CropForegroundd, foregroundBox, pasteBack } from '../../src/ts/transforms';
import type { StoredBox } from '../../src/ts/transforms';
import { LiversegError } from '../../src/ts/errors';
import type { Vec3 } from '../../src/ts/volume';
import { at, indexVolume, vol, world } from '../helpers/volumes';

function boxLabel(shape: Vec3, lo: Vec3, hi: Vec3, value = 1) {
  const d = new Uint8Array(shape[0] * shape[1] * shape[2]);
  for (let k = lo[2]; k <= hi[2]; k++) for (let j = lo[1]; j <= hi[1]; j++) for (let i = lo[0]; i <= hi[0]; i++) d[i + shape[0] * (j + shape[1] * k)] = value;
  return vol(d, shape);
}

describe('CropForeground', () => {
  const shape: Vec3 = [20, 16, 12];

  test('box of x > 0, end exclusive', () => {
    const l = boxLabel(shape, [5, 6, 3], [9, 7, 8]);
    expect(foregroundBox(l)).toEqual({ start: [5, 6, 3], end: [10, 8, 9] });
    // A threshold selects x > threshold.
    const two = boxLabel(shape, [1, 1, 1], [2, 2, 2], 2);
    expect(foregroundBox(two, { threshold: 1 })).toEqual({ start: [1, 1, 1], end: [3, 3, 3] });
    expect(foregroundBox(two, { select: (v) => v === 2 })).toEqual({ start: [1, 1, 1], end: [3, 3, 3] });
  });

  test('margin widens each side and is clipped at the volume edge', () => {
    const l = boxLabel(shape, [5, 6, 3], [9, 7, 8]);
    expect(foregroundBox(l, { margin: 2 })).toEqual({ start: [3, 4, 1], end: [12, 10, 11] });
    expect(foregroundBox(l, { margin: 30 })).toEqual({ start: [0, 0, 0], end: [20, 16, 12] });
    expect(foregroundBox(l, { margin: [1, 0, 4] })).toEqual({ start: [4, 6, 0], end: [11, 8, 12] });
    // With padding instead of clipping, the box may leave the volume.
    expect(foregroundBox(l, { margin: 6, boundary: 'pad' })).toEqual({ start: [-1, 0, -3], end: [16, 14, 15] });
  });

  test('the crop holds the box, with the origin at the box start', () => {
    const img = indexVolume(shape, { spacing: [0.8, 0.8, 3], origin: [-100, 50, 7] });
    const l = boxLabel(shape, [5, 6, 3], [9, 7, 8]);
    const { volume, box } = cropForeground(img, { margin: 1 }, l);
    expect(volume.shape).toEqual([7, 4, 8]);
    expect(at(volume, 0, 0, 0)).toBe(at(img, 4, 5, 2));
    expect(at(volume, 6, 3, 7)).toBe(at(img, 10, 8, 9));
    expect(world(volume.affine, 0, 0, 0)).toEqual(world(img.affine, box.start[0], box.start[1], box.start[2]));
  });

  test('an empty selection is ERR_EMPTY_FOREGROUND, not a zero-size crop', () => {
    const empty = vol(new Uint8Array(8), [2, 2, 2]);
    expect(() => foregroundBox(empty)).toThrow(LiversegError);
    try {
      foregroundBox(empty);
    } catch (e) {
      expect((e as LiversegError).code).toBe('ERR_EMPTY_FOREGROUND');
      expect((e as Error).message).toMatch(/no voxel is selected/);
    }
  });

  test('pasteBack restores the full grid: values in the box, fill outside, original affine', () => {
    const img = indexVolume(shape, { spacing: [0.8, 0.8, 3], origin: [-100, 50, 7] });
    const l = boxLabel(shape, [5, 6, 3], [9, 7, 8]);
    for (const boundary of ['clip', 'pad'] as const) {
      const { volume, box } = cropForeground(img, { margin: 7, boundary }, l);
      const back = pasteBack(volume, box, shape);
      expect(back.shape).toEqual(shape);
      back.affine.forEach((row, r) => row.forEach((x, c) => expect(x).toBeCloseTo(img.affine[r][c], 9)));
      for (let k = 0; k < shape[2]; k++)
        for (let j = 0; j < shape[1]; j++)
          for (let i = 0; i < shape[0]; i++) {
            const inside = i >= box.start[0] && i < box.end[0] && j >= box.start[1] && j < box.end[1] && k >= box.start[2] && k < box.end[2];
            expect(at(back, i, j, k)).toBe(inside ? at(img, i, j, k) : 0);
          }
    }
    // A mask predicted on the crop pasted into the CT's geometry.
    const { volume: lc, box } = cropForeground(l, { margin: 2 });
    const full = pasteBack(lc, box, shape, { like: img });
    expect(Array.from(full.data)).toEqual(Array.from(l.data));
    expect(full.data).toBeInstanceOf(Uint8Array);
    expect(() => pasteBack(lc, { start: [0, 0, 0], end: [1, 1, 1] }, shape)).toThrow(/spans/);
  });

  test('dictionary form crops every key to the source key box and stores the box', () => {
    const img = indexVolume(shape);
    const l = boxLabel(shape, [5, 6, 3], [9, 7, 8]);
    const t = new CropForegroundd({ keys: ['image', 'label'], sourceKey: 'label', margin: 3 });
    const s = t.apply({ image: img, label: l });
    const stored = s.foregroundBox as StoredBox;
    expect(stored).toEqual({ start: [2, 3, 0], end: [13, 11, 12], shape });
    expect(s.image.shape).toEqual([11, 8, 12]);
    expect(s.label!.shape).toEqual([11, 8, 12]);
    expect(pasteBack(s.label!, stored, stored.shape).data).toEqual(l.data);
    expect(t.toSpec()).toEqual({ name: 'CropForegroundd', args: { keys: ['image', 'label'], sourceKey: 'label', margin: 3 } });
  });
});
