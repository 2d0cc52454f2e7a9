/** The native voxel operations and process settings, against results computed by hand. */
import { labelComponents, largestComponent } from '../../src/ts/native/ops';
import { backend } from '../../src/ts/native/loader';
import { setNumThreads } from '../../src/ts/native/runtime';
import { LiversegError } from '../../src/ts/errors';
import type { Vec3 } from '../../src/ts/volume';

/** A mask of `shape` with the given [i, j, k] voxels set. */
function mask(shape: Vec3, on: Array<[number, number, number]>): Uint8Array {
  const m = new Uint8Array(shape[0] * shape[1] * shape[2]);
  for (const [i, j, k] of on) m[(k * shape[1] + j) * shape[0] + i] = 1;
  return m;
}

describe('labelComponents', () => {
  const shape: Vec3 = [8, 6, 4];
  // A 3-voxel bar, a 2-voxel pair touching only by an edge, and a lone voxel touching the pair by a corner.
  const on: Array<[number, number, number]> = [
    [0, 0, 0],
    [1, 0, 0],
    [2, 0, 0],
    [4, 3, 1],
    [5, 4, 1],
    [6, 5, 2],
  ];

  it('numbers components 1..n by decreasing size at 6-connectivity', async () => {
    const { labels, sizes } = await labelComponents(mask(shape, on), shape, 6);
    expect(sizes).toEqual([3, 1, 1, 1]);
    const at = (i: number, j: number, k: number) => labels[(k * shape[1] + j) * shape[0] + i];
    expect([at(0, 0, 0), at(1, 0, 0), at(2, 0, 0)]).toEqual([1, 1, 1]);
    expect(new Set([at(4, 3, 1), at(5, 4, 1), at(6, 5, 2)]).size).toBe(3);
    expect(at(3, 3, 3)).toBe(0);
  });

  it('joins edge neighbours at 18 and corner neighbours at 26', async () => {
    expect((await labelComponents(mask(shape, on), shape, 18)).sizes).toEqual([3, 2, 1]);
    expect((await labelComponents(mask(shape, on), shape, 26)).sizes).toEqual([3, 3]);
  });

  it('gives an empty list for an empty mask', async () => {
    const { labels, sizes } = await labelComponents(new Uint8Array(8), [2, 2, 2]);
    expect(sizes).toEqual([]);
    expect(Array.from(labels)).toEqual(new Array(8).fill(0));
  });
});

describe('largestComponent', () => {
  it('keeps the largest component and counts the rest', async () => {
    const shape: Vec3 = [5, 5, 5];
    const m = mask(shape, [
      [0, 0, 0],
      [4, 4, 4],
      [4, 3, 4],
    ]);
    const out = await largestComponent(m, shape, 6);
    expect(out.components).toBe(2);
    expect(out.keptVoxels).toBe(2);
    expect(out.mask[0]).toBe(0);
    expect(out.mask[(4 * 5 + 4) * 5 + 4]).toBe(1);
    expect(m[0]).toBe(1); // the input is not changed
  });
});

describe('setNumThreads', () => {
  const before = backend().threads;
  afterAll(() => setNumThreads(before));

  it("changes LibTorch's thread count, as backend() reports it", () => {
    setNumThreads(1);
    expect(backend().threads).toBe(1);
    setNumThreads(2);
    expect(backend().threads).toBe(2);
  });

  it.each([0, -1, 1.5, Number.NaN, '2'])('refuses %p with ERR_INVALID_ARG', (n) => {
    expect(() => setNumThreads(n as number)).toThrow(LiversegError);
    expect(() => setNumThreads(n as number)).toThrow(/Invalid argument 'threads'/);
  });
});
