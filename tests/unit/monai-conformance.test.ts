/**
 * MONAI 1.4's documented behaviour, on small hand-made arrays, for every piece the README says
 * follows MONAI (the TypeScript ones; the native ones are in tests/native/monai-native.test.ts).
 * Each expectation is a fact worked out by hand from MONAI's and torch's rules, not their code.
 */
import { roundHalfEven } from '../../src/ts/util/round';
import { nearestIndex } from '../../src/ts/transforms/resize';
import { resampleToSpacing } from '../../src/ts/geometry/resample';
import { scaleIntensityRange } from '../../src/ts/transforms/scale-intensity-range';
import { posNegCropSize, posNegCropStarts } from '../../src/ts/transforms/rand-crop-by-pos-neg-label';
import { foregroundBox } from '../../src/ts/transforms/crop-foreground';
import { LiversegError } from '../../src/ts/errors';
import { Rng } from '../../src/ts/util/rng';
import type { Affine, Vec3, Volume } from '../../src/ts/volume';

const volume = (data: ArrayLike<number>, shape: Vec3, affine?: Affine): Volume => {
  const a = affine ?? [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ];
  const spacing = [0, 1, 2].map((c) => Math.hypot(a[0][c], a[1][c], a[2][c])) as Vec3;
  return { data: Float32Array.from(data), shape, spacing, affine: a };
};

describe('rounding as numpy and torch', () => {
  it.each([
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [-0.5, -0],
    [-1.5, -2],
    [2.4999, 2],
    [3.7, 4],
  ])('roundHalfEven(%p) = %p', (x, r) => expect(Object.is(roundHalfEven(x), r) || roundHalfEven(x) === r).toBe(true));
});

describe('Resize, nearest (torch interpolate: float32 scale and product)', () => {
  it('picks the source index torch picks where double precision would differ', () => {
    // 26 -> 22: float32(26/22) * 11 = 12.9999995, floor 12; in doubles 11 * 26 / 22 = 13 exactly.
    expect(nearestIndex(26, 22)[11]).toBe(12);
    expect(nearestIndex(30, 58)[29]).toBe(14);
    expect(Array.from(nearestIndex(21, 69)).filter((_, o) => o === 23 || o === 46)).toEqual([6, 13]);
  });

  it('short-cuts equal sizes and exact doubling as torch does', () => {
    expect(Array.from(nearestIndex(5, 5))).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(nearestIndex(3, 6))).toEqual([0, 0, 1, 1, 2, 2]);
  });
});

describe('Spacing (diagonal=False)', () => {
  it('breaks nearest-neighbour ties to the even index (grid_sample nearest uses nearbyint)', () => {
    // 1 mm -> 0.5 mm: every odd new voxel sits exactly half-way between two old ones.
    const w = volume([0, 1, 2, 3, 4, 5], [6, 1, 1]);
    const r = resampleToSpacing(w, [0.5, 1, 1], 'nearest');
    // New voxel 1 sits at old 0.5 (a tie between 0 and 1): torch takes 0; new voxel 3 at 1.5: 2; voxel 5 at 2.5: 2.
    expect([r.data[1], r.data[3], r.data[5]]).toEqual([0, 2, 2]);
  });

  it('sizes the output as round-half-even(extent + 1), numpy.round', () => {
    // extent (5 - 1) * 1 / 1.6 = 2.5, + 1 = 3.5 -> 4 (half to even), where half-up of 2.5 plus one would give 4 too;
    // extent (4 - 1) / 2 = 1.5, + 1 = 2.5 -> 2 (half-up would give 3).
    expect(resampleToSpacing(volume(new Float32Array(4), [4, 1, 1]), [2, 1, 1], 'linear').shape[0]).toBe(2);
    expect(resampleToSpacing(volume(new Float32Array(5), [5, 1, 1]), [1.6, 1, 1], 'linear').shape[0]).toBe(4);
  });

  it("drops a shear from the output affine (zoom_affine's QR rotation), keeping voxel 0 in place", () => {
    const sheared: Affine = [
      [1, 0.5, 0, 10],
      [0, 1, 0, 20],
      [0, 0, 1, 30],
      [0, 0, 0, 1],
    ];
    const out = resampleToSpacing(volume(new Float32Array(27), [3, 3, 3], sheared), [1, 1, 1], 'linear');
    const a = out.affine;
    // Columns are orthonormal times the spacing: no shear term left.
    const dot = a[0][0] * a[0][1] + a[1][0] * a[1][1] + a[2][0] * a[2][1];
    expect(Math.abs(dot)).toBeLessThan(1e-12);
    expect([a[0][3], a[1][3], a[2][3]]).toEqual([10, 20, 30]);
    expect(out.spacing).toEqual([1, 1, 1]);
  });
});

describe('ScaleIntensityRange', () => {
  const ct = volume([-100, 0, 100, 200], [4, 1, 1]);

  it('with a zero-width window warns and returns x - aMin + bMin, unclipped', () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const out = scaleIntensityRange(ct, { aMin: 50, aMax: 50, bMin: 1, bMax: 2, clip: true });
    expect(Array.from(out.data)).toEqual([-149, -49, 51, 151]);
    warn.mockRestore();
  });

  it('clips an inverted output range as torch.clamp(y, bMin, bMax): everything becomes bMax', () => {
    const out = scaleIntensityRange(ct, { aMin: -100, aMax: 200, bMin: 1, bMax: 0, clip: true });
    expect(Array.from(out.data)).toEqual([0, 0, 0, 0]);
    const unclipped = scaleIntensityRange(ct, { aMin: -100, aMax: 200, bMin: 1, bMax: 0 });
    expect(Array.from(unclipped.data).map((x) => +x.toFixed(6))).toEqual([1, +(2 / 3).toFixed(6), +(1 / 3).toFixed(6), 0]);
  });
});

describe('RandCropByPosNegLabel', () => {
  const label = volume([0, 0, 0, 0, 0, 0, 0, 1], [2, 2, 2]);
  const dark = volume(new Float32Array(8).fill(-1), [2, 2, 2]);

  it('never restricts foreground centres by the image threshold', () => {
    const starts = posNegCropStarts(label, { size: [1, 1, 1], numSamples: 10, pos: 1, neg: 0 }, new Rng(3), dark);
    expect(starts.every((s) => s.join() === '1,1,1')).toBe(true);
  });

  it('takes -1 or 0 in the crop size as the volume size', () => {
    expect(posNegCropSize([7, 8, 9], { size: [-1, 0, 3] })).toEqual([7, 8, 3]);
  });
});

describe('CropForeground', () => {
  // MONAI 1.4 (allow_smaller=True) clips a margin that runs past the volume; MONAI 1.5 pads by default. liverseg follows 1.4, with 'pad' on request.
  it('clips the widened box by default and pads only when asked', () => {
    const l = volume([0, 0, 0, 0, 0, 0, 0, 1], [2, 2, 2]);
    expect(foregroundBox(l, { margin: 1 })).toEqual({ start: [0, 0, 0], end: [2, 2, 2] });
    expect(foregroundBox(l, { margin: 1, boundary: 'pad' })).toEqual({ start: [0, 0, 0], end: [3, 3, 3] });
  });

  it('refuses an empty selection where MONAI returns a zero-size crop (a documented difference: a Volume has no zero-size axis)', () => {
    expect(() => foregroundBox(volume(new Float32Array(8), [2, 2, 2]))).toThrow(LiversegError);
  });
});
