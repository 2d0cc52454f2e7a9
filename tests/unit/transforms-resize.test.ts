import { resize, Resized } from '../../src/ts/transforms';
import { resizeAreaData, resizeNearestData } from '../../src/ts/transforms/resize';
import type { Vec3 } from '../../src/ts/volume';
import { at, fromFn, vol, world } from '../helpers/volumes';

/** Straightforward 3D adaptive average pooling, box by box, as PyTorch defines it. */
function referenceArea(src: ArrayLike<number>, shape: Vec3, out: Vec3): number[] {
  const res: number[] = [];
  const bin = (o: number, n: number, m: number) => [Math.floor((o * n) / m), Math.ceil(((o + 1) * n) / m)];
  for (let k = 0; k < out[2]; k++)
    for (let j = 0; j < out[1]; j++)
      for (let i = 0; i < out[0]; i++) {
        const [i0, i1] = bin(i, shape[0], out[0]);
        const [j0, j1] = bin(j, shape[1], out[1]);
        const [k0, k1] = bin(k, shape[2], out[2]);
        let s = 0;
        let c = 0;
        for (let z = k0; z < k1; z++)
          for (let y = j0; y < j1; y++)
            for (let x = i0; x < i1; x++) {
              s += src[x + shape[0] * (y + shape[1] * z)];
              c++;
            }
        res.push(s / c);
      }
  return res;
}

describe('Resize, area mode', () => {
  test('halving averages 2x2x2 blocks', () => {
    const v = fromFn([4, 4, 2], (i, j, k) => i + 10 * j + 100 * k);
    const r = resize(v, { size: [2, 2, 1] });
    expect(r.data).toBeInstanceOf(Float32Array);
    // Block (0,0,0): i in {0,1}, j in {0,1}, k in {0,1}: mean = 0.5 + 5 + 50.
    expect(Array.from(r.data)).toEqual([55.5, 57.5, 75.5, 77.5]);
  });

  test('uneven bins: start floor(o*in/out), end ceil((o+1)*in/out), shrinking and enlarging', () => {
    const five = vol(new Float32Array([1, 2, 4, 8, 16]), [5, 1, 1]);
    const r = resize(five, { size: [3, 1, 1] });
    expect(r.data[0]).toBeCloseTo((1 + 2) / 2, 6);
    expect(r.data[1]).toBeCloseTo((2 + 4 + 8) / 3, 6);
    expect(r.data[2]).toBeCloseTo((8 + 16) / 2, 6);
    const two = vol(new Int16Array([10, 20]), [2, 1, 1]);
    expect(Array.from(resize(two, { size: [3, 1, 1] }).data)).toEqual([10, 15, 20]);
  });

  test('matches box-by-box adaptive average pooling in 3D (mixed shrink and enlarge)', () => {
    const shape: Vec3 = [7, 5, 6];
    const src = new Int16Array(7 * 5 * 6).map((_, n) => ((n * 7919) % 401) - 200);
    const out: Vec3 = [3, 4, 9];
    const got = resizeAreaData(src, shape, out);
    const ref = referenceArea(src, shape, out);
    expect(got.length).toBe(ref.length);
    ref.forEach((x, n) => expect(got[n]).toBeCloseTo(x, 3));
  });

  test('same size is a float32 copy; -1 keeps an axis', () => {
    const v = vol(new Int16Array([1, 2, 3, 4, 5, 6]), [3, 2, 1]);
    const r = resize(v, { size: [3, 2, 1] });
    expect(Array.from(r.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(r.data).toBeInstanceOf(Float32Array);
    expect(resize(v, { size: [-1, 1, -1] }).shape).toEqual([3, 1, 1]);
  });
});

describe('Resize, nearest mode', () => {
  test('src = floor(dst * in / out), element type kept', () => {
    const v = vol(new Uint8Array([0, 1, 2, 3, 4]), [5, 1, 1]);
    const r = resize(v, { size: [3, 1, 1], mode: 'nearest' });
    expect(r.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(r.data)).toEqual([0, 1, 3]);
    const three = vol(new Uint8Array([7, 8, 9]), [3, 1, 1]);
    expect(Array.from(resizeNearestData(three.data, [3, 1, 1], [7, 1, 1]))).toEqual([7, 7, 7, 8, 8, 9, 9]);
  });

  test('3D indices per axis', () => {
    const v = fromFn([6, 4, 3], (i, j, k) => i + 10 * j + 100 * k);
    const r = resize(v, { size: [4, 3, 5], mode: 'nearest' });
    for (let k = 0; k < 5; k++)
      for (let j = 0; j < 3; j++)
        for (let i = 0; i < 4; i++) {
          expect(at(r, i, j, k)).toBe(Math.floor((i * 6) / 4) + 10 * Math.floor((j * 4) / 3) + 100 * Math.floor((k * 3) / 5));
        }
  });
});

describe('Resize geometry and dictionary form', () => {
  test('spacing scales by in/out and the field of view is unchanged', () => {
    const v = fromFn([8, 6, 4], () => 0, { spacing: [0.5, 1, 2.5], origin: [5, -7, 30] });
    const r = resize(v, { size: [4, 3, 8] });
    expect(r.spacing).toEqual([1, 2, 1.25]);
    // Outer corners of the first and last voxels coincide.
    const cornerIn = world(v.affine, -0.5, -0.5, -0.5);
    const cornerOut = world(r.affine, -0.5, -0.5, -0.5);
    cornerIn.forEach((x, d) => expect(cornerOut[d]).toBeCloseTo(x, 9));
    const farIn = world(v.affine, 7.5, 5.5, 3.5);
    const farOut = world(r.affine, 3.5, 2.5, 7.5);
    farIn.forEach((x, d) => expect(farOut[d]).toBeCloseTo(x, 9));
  });

  test("defaults to 'area' for images and 'nearest' for labels", () => {
    const image = fromFn([4, 4, 4], (i) => i);
    const label = vol(
      new Uint8Array(64).map((_, n) => n % 3),
      [4, 4, 4],
    );
    const s = new Resized({ keys: ['image', 'label'], size: [2, 2, 2] }).apply({ image, label });
    expect(s.image.data).toBeInstanceOf(Float32Array);
    expect(s.image.data[0]).toBeCloseTo(0.5, 6);
    expect(s.label!.data).toBeInstanceOf(Uint8Array);
    expect(new Set(s.label!.data)).toEqual(new Set([0, 1, 2]));
    expect(s.label!.affine).toEqual(s.image.affine);
    const forced = new Resized({ keys: ['image', 'label'], size: [2, 2, 2], mode: ['nearest', 'nearest'] }).apply({ image, label });
    expect(forced.image.data[0]).toBe(0);
  });
});
