import { ResUNet } from '../../src/ts/nets/resunet';
import { sphereBatch } from '../helpers/shapes';
import { testDevice } from '../helpers/device';

describe('native work runs off the JS thread', () => {
  it('a 10 ms interval keeps firing while training steps run', async () => {
    const net = await ResUNet.create({ channels: [8, 16, 32, 64], device: testDevice });
    const { images, labels } = sphereBatch(48, 14);
    const ticks: number[] = [];
    const timer = setInterval(() => ticks.push(Date.now()), 10);
    const t0 = Date.now();
    // at least 300 ms of native work, however fast the device
    while (Date.now() - t0 < 300) await net.trainStep(images, labels);
    const elapsed = Date.now() - t0;
    clearInterval(timer);
    // A blocked loop would show one late tick per step at most.
    expect(ticks.length).toBeGreaterThanOrEqual(Math.floor(elapsed / 10 / 4));
    let maxGap = 0;
    for (let i = 1; i < ticks.length; i++) maxGap = Math.max(maxGap, ticks[i] - ticks[i - 1]);
    expect(maxGap).toBeLessThan(elapsed / 2);
  });
});
