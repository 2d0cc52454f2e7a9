/**
 * The CUDA path. These run wherever CUDA is present (scripts/gpu-check.sh runs them on a GPU
 * machine); on a machine without CUDA the CUDA-only block is skipped, because there is no device to
 * run it on, and the device-independent checks still run.
 */
import { backend } from '../../src/ts/native/loader';
import { ResUNet } from '../../src/ts/nets/resunet';
import { randomFloats, sphereBatch } from '../helpers/shapes';

const cuda = backend().cudaAvailable;

describe('sliding-window accumulation', () => {
  it('gives the same probabilities whether sums are kept on the device or on the CPU', async () => {
    const net = await ResUNet.create({ channels: [4, 8, 16], device: cuda ? 'cuda' : 'cpu', precision: 'off', seed: 2 });
    const volume = { data: randomFloats(40 * 36 * 28, 3), shape: [40, 36, 28] as [number, number, number] };
    const opts = { roi: [24, 24, 16] as [number, number, number], overlap: 0.5, output: 'probabilities' as const };
    const onDevice = await net.predictVolume(volume, { ...opts, accumulate: 'device' });
    const onCpu = await net.predictVolume(volume, { ...opts, accumulate: 'cpu' });
    expect(onDevice.shape).toEqual([1, 40, 36, 28]);
    let maxDiff = 0;
    for (let i = 0; i < onDevice.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(onDevice.data[i] - onCpu.data[i]));
    // Same arithmetic on the CPU; on CUDA the two runs may pick different cuDNN algorithms (TF32), so
    // only rounding-level differences are allowed there.
    expect(maxDiff).toBeLessThan(cuda ? 2e-3 : 1e-5);
  });
});

// Skipped without CUDA: these compare the GPU against the CPU and need a GPU to run on.
(cuda ? describe : describe.skip)('CUDA', () => {
  it('computes the same forward pass as the CPU in fp32', async () => {
    const gpu = await ResUNet.create({ channels: [8, 16, 32, 64], device: 'cuda', precision: 'off', seed: 4 });
    const cpu = await ResUNet.create({ channels: [8, 16, 32, 64], device: 'cpu', seed: 9 });
    await cpu.setWeights(await gpu.getWeights());
    const x = { data: randomFloats(40 * 40 * 24, 5), shape: [1, 1, 40, 40, 24] as [number, number, number, number, number] };
    const a = (await gpu.forward(x)).data;
    const b = (await cpu.forward(x)).data;
    let num = 0,
      den = 0;
    for (let i = 0; i < a.length; i++) {
      num += (a[i] - b[i]) ** 2;
      den += b[i] ** 2;
    }
    // cuDNN may use TF32 for convolutions: well under 1e-2 relative, never NaN
    expect(Math.sqrt(num / den)).toBeLessThan(1e-2);
    expect(gpu.device).toMatch(/^cuda/);
  });

  it('learns with bf16 mixed precision (the default on CUDA)', async () => {
    const net = await ResUNet.create({ channels: [8, 16, 32, 64], device: 'cuda', seed: 3, optimizer: { lr: 0.01 } });
    const { images, labels } = sphereBatch(48, 14);
    let dice = 0;
    for (let step = 1; step <= 60 && dice <= 0.9; step++) {
      await net.trainStep(images, labels);
      if (step % 10 === 0) dice = (await net.evaluate(images, labels))[0][0];
    }
    expect(dice).toBeGreaterThan(0.9);
    expect(net.memoryStats().peakAllocated).toBeGreaterThan(0);
  });

  it('segments the same mask on the GPU as on the CPU (fp32, sliding windows)', async () => {
    const gpu = await ResUNet.create({ channels: [4, 8, 16], device: 'cuda', precision: 'off', seed: 6 });
    const cpu = await ResUNet.create({ channels: [4, 8, 16], device: 'cpu', seed: 1 });
    await cpu.setWeights(await gpu.getWeights());
    const volume = { data: randomFloats(50 * 44 * 30, 8), shape: [50, 44, 30] as [number, number, number] };
    const opts = { roi: [32, 32, 16] as [number, number, number], overlap: 0.25, output: 'mask' as const };
    const a = (await gpu.predictVolume(volume, opts)).data;
    const b = (await cpu.predictVolume(volume, opts)).data;
    let agree = 0;
    for (let i = 0; i < a.length; i++) agree += a[i] === b[i] ? 1 : 0;
    expect(agree / a.length).toBeGreaterThan(0.995);
  });
});
