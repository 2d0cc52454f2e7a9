/** The coarse stage picks the liver by probability mass, so a large lukewarm false positive loses to a confident smaller liver. */
import { likeliestLiverBox } from '../../src/ts/inferers/segment';
import type { Vec3 } from '../../src/ts/volume';

function block(probs: Float32Array, shape: Vec3, start: Vec3, size: Vec3, p: number): void {
  for (let k = start[2]; k < start[2] + size[2]; k++)
    for (let j = start[1]; j < start[1] + size[1]; j++) for (let i = start[0]; i < start[0] + size[0]; i++) probs[(k * shape[1] + j) * shape[0] + i] = p;
}

describe('likeliestLiverBox', () => {
  const shape: Vec3 = [20, 20, 10];

  it('prefers the component with the most probability mass over the one with the most voxels', async () => {
    const probs = new Float32Array(shape[0] * shape[1] * shape[2]);
    block(probs, shape, [0, 0, 0], [5, 5, 2], 0.55); // 50 voxels, mass 27.5
    block(probs, shape, [10, 10, 5], [3, 5, 2], 0.99); // 30 voxels, mass 29.7
    expect(await likeliestLiverBox(probs, shape)).toEqual({ start: [10, 10, 5], end: [13, 15, 7] });
  });

  it('counts probability 0.5 as liver (sigmoid >= 0.5, as MONAI AsDiscrete) and returns null when nothing reaches it', async () => {
    const probs = new Float32Array(shape[0] * shape[1] * shape[2]).fill(0.49);
    expect(await likeliestLiverBox(probs, shape)).toBeNull();
    probs[0] = 0.5;
    expect(await likeliestLiverBox(probs, shape)).toEqual({ start: [0, 0, 0], end: [1, 1, 1] });
  });
});
