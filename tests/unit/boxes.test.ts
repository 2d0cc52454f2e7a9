/** Boxes: bounding boxes of selected voxels, margins, and the coarse-to-full mapping segment() uses. */
import { boundingBox, boxSize, mapBoxToFull, widenBox } from '../../src/ts/geometry/boxes';
import type { Vec3 } from '../../src/ts/volume';

describe('boundingBox', () => {
  const shape: Vec3 = [4, 3, 2];
  const data = new Float32Array(24);
  data[(0 * 3 + 1) * 4 + 2] = 5; // (2, 1, 0)
  data[(1 * 3 + 2) * 4 + 3] = 1; // (3, 2, 1)

  it('covers every selected voxel, end exclusive', () => {
    expect(boundingBox(data, shape)).toEqual({ start: [2, 1, 0], end: [4, 3, 2] });
    expect(boundingBox(data, shape, { threshold: 2 })).toEqual({ start: [2, 1, 0], end: [3, 2, 1] });
    expect(boundingBox(data, shape, { select: (v) => v === 1 })).toEqual({ start: [3, 2, 1], end: [4, 3, 2] });
  });

  it('is null when nothing is selected', () => {
    expect(boundingBox(new Uint8Array(24), shape)).toBeNull();
  });
});

describe('widenBox', () => {
  const box = { start: [2, 1, 0] as Vec3, end: [3, 2, 1] as Vec3 };
  it('clips to the volume or runs past it', () => {
    expect(widenBox(box, [1, 1, 1], [4, 3, 2])).toEqual({ start: [1, 0, 0], end: [4, 3, 2] });
    expect(widenBox(box, [1, 1, 1], [4, 3, 2], 'pad')).toEqual({ start: [1, 0, -1], end: [4, 3, 2] });
    expect(boxSize(widenBox(box, [0, 0, 0], [4, 3, 2]))).toEqual([1, 1, 1]);
  });
});

describe('mapBoxToFull', () => {
  it('covers every full-resolution voxel the coarse box touches', () => {
    // Coarse 4 voxels over full 10: coarse voxel 1 spans full [2.5, 5) -> voxels 2..4.
    expect(mapBoxToFull({ start: [1, 0, 0], end: [2, 4, 2] }, [4, 4, 2], [10, 8, 5], 0)).toEqual({ start: [2, 0, 0], end: [5, 8, 5] });
  });

  it('adds the margin and clips it to the full grid', () => {
    expect(mapBoxToFull({ start: [1, 1, 1], end: [2, 2, 2] }, [4, 4, 4], [8, 8, 8], 1)).toEqual({ start: [1, 1, 1], end: [5, 5, 5] });
    expect(mapBoxToFull({ start: [0, 0, 0], end: [4, 4, 4] }, [4, 4, 4], [8, 8, 8], 3)).toEqual({ start: [0, 0, 0], end: [8, 8, 8] });
  });

  it('is the identity for equal grids and no margin', () => {
    const b = { start: [1, 2, 3] as Vec3, end: [4, 5, 6] as Vec3 };
    expect(mapBoxToFull(b, [7, 7, 7], [7, 7, 7], 0)).toEqual(b);
  });
});
