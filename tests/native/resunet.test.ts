import { ResUNet } from '../../src/ts/nets/resunet';
import { ModelOptions, parameterCount } from '../../src/ts/nets/config';
import { testDevice } from '../helpers/device';
import { randomFloats, sphereBatch } from '../helpers/shapes';

const tiny: ModelOptions = { channels: [4, 8, 16, 32], device: testDevice, seed: 3 };

describe('ResUNet3D', () => {
  it('keeps the input spatial shape for sizes not divisible by 16 (37x45x29)', async () => {
    const net = await ResUNet.create({ channels: [2, 4, 8, 16, 32], device: testDevice });
    const shape: [number, number, number, number, number] = [1, 1, 37, 45, 29];
    const out = await net.forward({ data: randomFloats(37 * 45 * 29), shape });
    expect(out.shape).toEqual(shape);
    expect(out.data.length).toBe(37 * 45 * 29);
    expect(out.data.every(Number.isFinite)).toBe(true);
    // padding must not leak: the last voxel's logit comes from the network, not a constant fill
    expect(new Set(out.data.subarray(out.data.length - 50)).size).toBeGreaterThan(10);
  });

  it.each([
    ['residual', { channels: [16, 32, 64, 128, 256], block: 'residual' as const }],
    ['plain', { channels: [16, 32, 64, 128, 256], block: 'plain' as const }],
    ['two outputs, three levels', { channels: [8, 16, 32], outChannels: 2 }],
  ])('has the parameter count the layer formula gives (%s)', async (_name, arch) => {
    const net = await ResUNet.create({ ...arch, device: testDevice });
    expect(net.parameterCount).toBe(parameterCount(arch));
  });

  it('default architecture matches a hand sum of its layers', async () => {
    // hand sum for the report's network: conv 3x3x3 weights+bias, InstanceNorm affine, 1x1x1 shortcut, head
    const conv = (i: number, o: number, k: number) => i * o * k ** 3 + o;
    const res = (i: number, o: number) => conv(i, o, 3) + conv(o, o, 3) + conv(i, o, 1) + 6 * o;
    const expected =
      res(1, 16) + res(16, 32) + res(32, 64) + res(64, 128) + res(128, 256) + res(384, 128) + res(192, 64) + res(96, 32) + res(48, 16) + conv(16, 1, 1);
    const net = await ResUNet.create({ device: testDevice });
    expect(net.parameterCount).toBe(expected);
  });

  it('gives bit-identical outputs after copying weights into a differently seeded model', async () => {
    const a = await ResUNet.create({ ...tiny, seed: 1 });
    const b = await ResUNet.create({ ...tiny, seed: 2 });
    const x = { data: randomFloats(24 * 20 * 16), shape: [1, 1, 24, 20, 16] as [number, number, number, number, number] };
    const ya = await a.forward(x);
    const yb0 = await b.forward(x);
    expect(Buffer.from(yb0.data.buffer).equals(Buffer.from(ya.data.buffer))).toBe(false);
    await b.setWeights(await a.getWeights());
    const yb = await b.forward(x);
    expect(
      Buffer.from(yb.data.buffer, yb.data.byteOffset, yb.data.byteLength).equals(Buffer.from(ya.data.buffer, ya.data.byteOffset, ya.data.byteLength)),
    ).toBe(true);
  });

  it('overfits one 32^3 sphere to Dice > 0.9 within 40 steps', async () => {
    const net = await ResUNet.create({ ...tiny, optimizer: { lr: 0.01 } });
    const { images, labels } = sphereBatch(32, 9);
    const before = (await net.evaluate(images, labels))[0][0];
    let dice = 0;
    const losses: number[] = [];
    for (let step = 1; step <= 40 && dice <= 0.9; step++) {
      losses.push(await net.trainStep(images, labels));
      if (step % 5 === 0) dice = (await net.evaluate(images, labels))[0][0];
    }
    expect(dice).toBeGreaterThan(0.9);
    expect(dice).toBeGreaterThan(before);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
  });

  it('uses the learning rate set before each step (lr 0 leaves the weights unchanged)', async () => {
    const net = await ResUNet.create(tiny);
    const { images, labels } = sphereBatch(16, 5);
    await net.setLearningRate(0);
    const w0 = await net.getWeights();
    await net.trainStep(images, labels);
    const w1 = await net.getWeights();
    expect(w1.every((t, i) => Buffer.from(t.data.buffer).equals(Buffer.from(w0[i].data.buffer)))).toBe(true);
    await net.setLearningRate(0.01);
    expect(net.learningRate).toBe(0.01);
    await net.trainStep(images, labels);
    const w2 = await net.getWeights();
    expect(w2.some((t, i) => !Buffer.from(t.data.buffer).equals(Buffer.from(w0[i].data.buffer)))).toBe(true);
  });

  it('serialises concurrent calls on one model and returns each its own result', async () => {
    const net = await ResUNet.create(tiny);
    const inputs = [1, 2, 3].map((s) => ({ data: randomFloats(16 ** 3, s), shape: [1, 1, 16, 16, 16] as [number, number, number, number, number] }));
    const sequential: Awaited<ReturnType<ResUNet['forward']>>[] = [];
    for (const x of inputs) sequential.push(await net.forward(x));
    const concurrent = await Promise.all(inputs.map((x) => net.forward(x)));
    concurrent.forEach((y, i) => expect(Array.from(y.data)).toEqual(Array.from(sequential[i].data)));
  });
});
