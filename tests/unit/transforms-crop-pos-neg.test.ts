import { randCropByPosNegLabel, RandCropByPosNegLabeld } from '../../src/ts/transforms';
import { posNegCropSize, posNegCropStarts, posNegIndices } from '../../src/ts/transforms/rand-crop-by-pos-neg-label';
import { Rng } from '../../src/ts/util/rng';
import { LiversegError } from '../../src/ts/errors';
import type { Vec3 } from '../../src/ts/volume';
import { at, indexVolume, vol, world } from '../helpers/volumes';

function labelWith(shape: Vec3, fg: Vec3[]) {
  const d = new Uint8Array(shape[0] * shape[1] * shape[2]);
  for (const [i, j, k] of fg) d[i + shape[0] * (j + shape[1] * k)] = 1;
  return vol(d, shape);
}

describe('RandCropByPosNegLabel', () => {
  test('clamps the centre so the crop stays inside the volume', () => {
    const rng = new Rng(1);
    const corner = labelWith([10, 10, 10], [[0, 0, 0]]);
    expect(posNegCropStarts(corner, { size: [4, 4, 4], pos: 1, neg: 0 }, rng)).toEqual([[0, 0, 0]]);
    const far = labelWith([10, 10, 10], [[9, 9, 9]]);
    expect(posNegCropStarts(far, { size: [4, 4, 4], pos: 1, neg: 0 }, rng)).toEqual([[6, 6, 6]]);
    // Unclamped: start = centre - floor(size / 2), for odd and even sizes.
    const mid = labelWith([10, 10, 10], [[5, 4, 6]]);
    expect(posNegCropStarts(mid, { size: [3, 4, 5], pos: 1, neg: 0 }, rng)).toEqual([[4, 2, 4]]);
    // A crop as large as the volume can only start at 0.
    expect(posNegCropStarts(mid, { size: [10, 10, 10], pos: 1, neg: 0 }, rng)).toEqual([[0, 0, 0]]);
  });

  test('picks foreground centres with probability pos / (pos + neg)', () => {
    // size 1: the crop start is the chosen centre itself, so its label tells which kind it was.
    const shape: Vec3 = [20, 20, 10];
    const fg: Vec3[] = [];
    for (let k = 0; k < 10; k++) for (let j = 5; j < 15; j++) for (let i = 5; i < 15; i++) fg.push([i, j, k]);
    const label = labelWith(shape, fg);
    const starts = posNegCropStarts(label, { size: [1, 1, 1], numSamples: 4000, pos: 1, neg: 3 }, new Rng(7));
    const nFg = starts.filter(([i, j, k]) => at(label, i, j, k) === 1).length;
    expect(nFg / 4000).toBeGreaterThan(0.22);
    expect(nFg / 4000).toBeLessThan(0.28);
    // Both kinds are spread over their whole set.
    expect(new Set(starts.map((s) => s.join(','))).size).toBeGreaterThan(1500);
  });

  test('no foreground: background only; no background: foreground only', () => {
    const empty = vol(new Uint8Array(125), [5, 5, 5]);
    const s1 = posNegCropStarts(empty, { size: [1, 1, 1], numSamples: 50, pos: 1, neg: 0 }, new Rng(2));
    expect(s1).toHaveLength(50);
    const full = vol(new Uint8Array(125).fill(2), [5, 5, 5]);
    const s2 = posNegCropStarts(full, { size: [1, 1, 1], numSamples: 50, pos: 0, neg: 1 }, new Rng(2));
    expect(s2).toHaveLength(50);
    expect(new Set(s2.map((s) => s.join(','))).size).toBeGreaterThan(20);
  });

  test('the image threshold restricts background centres only, as in MONAI', () => {
    // The only foreground voxel lies where the image is below the threshold: MONAI still centres on it.
    const label = labelWith([4, 4, 4], [[1, 1, 1]]);
    const image = vol(new Float32Array(64).fill(-5), [4, 4, 4]);
    const fgOnly = posNegCropStarts(label, { size: [1, 1, 1], numSamples: 20, pos: 1, neg: 1 }, new Rng(0), image);
    expect(fgOnly.every((x) => x.join() === '1,1,1')).toBe(true);
    // Background candidates are those above the threshold. (Index lists are memoised per array, so a changed image must be a new array.)
    const image2 = vol(Float32Array.from(image.data), [4, 4, 4]);
    image2.data[5] = 1; // (1, 1, 0): background, above threshold
    const bgOnly = posNegCropStarts(label, { size: [1, 1, 1], numSamples: 20, pos: 0, neg: 1 }, new Rng(0), image2);
    expect(bgOnly.every((x) => x.join() === '1,1,0')).toBe(true);
  });

  test('neither foreground nor background above the image threshold is ERR_EMPTY_FOREGROUND', () => {
    const label = vol(new Uint8Array(64), [4, 4, 4]);
    const image = vol(new Float32Array(64).fill(-5), [4, 4, 4]);
    let err: unknown;
    try {
      posNegCropStarts(label, { size: [2, 2, 2] }, new Rng(0), image);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LiversegError);
    expect((err as LiversegError).code).toBe('ERR_EMPTY_FOREGROUND');
  });

  test('a crop size of -1 or 0 on an axis takes the volume size there (MONAI fall_back_tuple)', () => {
    const label = labelWith([6, 5, 4], [[2, 2, 2]]);
    expect(posNegCropSize(label.shape, { size: [-1, 3, 0] })).toEqual([6, 3, 4]);
    const starts = posNegCropStarts(label, { size: [-1, 3, 0], numSamples: 5 }, new Rng(1));
    for (const s of starts) expect([s[0], s[2]]).toEqual([0, 0]);
    expect(() => posNegCropStarts(label, { size: [-2, 3, 3] }, new Rng(1))).toThrow(/Invalid argument 'size'/);
  });

  test('index lists are computed once per label array', () => {
    const label = labelWith(
      [6, 6, 6],
      [
        [2, 2, 2],
        [3, 3, 3],
      ],
    );
    const a = posNegIndices(label);
    expect(posNegIndices({ ...label }).fg).toBe(a.fg);
    expect(a.fgCount).toBe(2);
    expect(a.bgCount).toBe(214);
    expect(Array.from(a.fg!)).toEqual([2 + 6 * (2 + 6 * 2), 3 + 6 * (3 + 6 * 3)]);
    expect(a.bg).toBeNull(); // the majority set is sampled by rejection
    expect(posNegIndices(vol(Uint8Array.from(label.data), [6, 6, 6]))).not.toBe(a);
  });

  test('a crop larger than the volume is an error unless allowSmaller', () => {
    const label = labelWith([4, 4, 4], [[1, 1, 1]]);
    expect(() => posNegCropStarts(label, { size: [5, 4, 4] }, new Rng(0))).toThrow(/pad first/);
    const img = indexVolume([4, 4, 4]);
    const crops = randCropByPosNegLabel(img, label, { size: [5, 2, 2], allowSmaller: true }, new Rng(0));
    expect(crops[0].shape).toEqual([4, 2, 2]);
  });

  test('dictionary form: numSamples crops, image and label cut at one box, origin moved, same seed same crops', () => {
    const shape: Vec3 = [12, 10, 8];
    const image = indexVolume(shape, { spacing: [0.5, 0.7, 2], origin: [-3, 4, 100] });
    const label = labelWith(shape, [
      [6, 5, 4],
      [7, 5, 4],
      [2, 2, 2],
    ]);
    label.affine = image.affine;
    const t = new RandCropByPosNegLabeld({ keys: ['image', 'label'], labelKey: 'label', size: [4, 4, 4], numSamples: 4 });
    const out = t.apply({ image, label, name: 'c' }, new Rng(11));
    expect(out).toHaveLength(4);
    for (const s of out) {
      expect(s.name).toBe('c');
      expect(s.image.shape).toEqual([4, 4, 4]);
      expect(s.label!.shape).toEqual([4, 4, 4]);
      // The index image tells where the crop starts.
      const v = s.image.data[0];
      const start = [v % 12, Math.floor(v / 12) % 10, Math.floor(v / 120)];
      expect(world(s.image.affine, 0, 0, 0)).toEqual(world(image.affine, start[0], start[1], start[2]));
      for (let k = 0; k < 4; k++)
        for (let j = 0; j < 4; j++)
          for (let i = 0; i < 4; i++) {
            expect(at(s.image, i, j, k)).toBe(at(image, start[0] + i, start[1] + j, start[2] + k));
            expect(at(s.label!, i, j, k)).toBe(at(label, start[0] + i, start[1] + j, start[2] + k));
          }
    }
    const again = t.apply({ image, label }, new Rng(11)).map((s) => s.image.data[0]);
    expect(again).toEqual(out.map((s) => s.image.data[0]));
    expect(t.random).toBe(true);
    expect(() => t.apply({ image, label })).toThrow(/needs an Rng/);
  });
});
