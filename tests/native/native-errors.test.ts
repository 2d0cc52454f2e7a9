import { LiversegError } from '../../src/ts/errors';
import { ResUNet } from '../../src/ts/nets/resunet';
import type { NativeBinding, NativeTestHooks } from '../../src/ts/native/binding';
import { loadBinding } from '../../src/ts/native/loader';
import { rawModelConfig, RAW_OPTIMIZER } from '../helpers/native-config';
import type { TensorBatch as Batch } from '../../src/ts/native/tensors';
import { randomFloats, sphereBatch } from '../helpers/shapes';
import { testDevice } from '../helpers/device';

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(LiversegError);
    expect((e as Error).message).not.toMatch(/Exception raised from|\.cpp:\d+|frame #/);
    return (e as LiversegError).code;
  }
  throw new Error('expected a rejection');
}

describe('bad input gets a LiversegError with a code, and the process survives', () => {
  let net: ResUNet;
  beforeAll(async () => {
    net = await ResUNet.create({ channels: [4, 8, 16], device: testDevice });
  });

  it('wrong rank', async () => {
    const bad = { data: new Float32Array(8), shape: [2, 2, 2] } as unknown as Batch<Float32Array>;
    expect(await codeOf(() => net.forward(bad))).toBe('ERR_SHAPE_MISMATCH');
  });

  it('data length that disagrees with the shape', async () => {
    expect(await codeOf(() => net.forward({ data: new Float32Array(7), shape: [1, 1, 2, 2, 2] }))).toBe('ERR_SHAPE_MISMATCH');
  });

  it('mismatched image and label shapes', async () => {
    const { images } = sphereBatch(16, 4);
    const { labels } = sphereBatch(12, 4);
    expect(await codeOf(() => net.trainStep(images, labels))).toBe('ERR_SHAPE_MISMATCH');
  });

  it('non-finite values', async () => {
    const data = randomFloats(8 ** 3);
    data[100] = NaN;
    expect(await codeOf(() => net.forward({ data, shape: [1, 1, 8, 8, 8] }))).toBe('ERR_NON_FINITE');
    data[100] = Infinity;
    const { labels } = sphereBatch(8, 2);
    expect(await codeOf(() => net.trainStep({ data, shape: [1, 1, 8, 8, 8] }, labels))).toBe('ERR_NON_FINITE');
  });

  it('zero-size volumes', async () => {
    expect(await codeOf(() => net.forward({ data: new Float32Array(0), shape: [1, 1, 0, 8, 8] }))).toBe('ERR_SHAPE_MISMATCH');
  });

  it('wrong channel count and wrong dtype', async () => {
    expect(await codeOf(() => net.forward({ data: randomFloats(2 * 8 ** 3), shape: [1, 2, 8, 8, 8] }))).toBe('ERR_SHAPE_MISMATCH');
    expect(await codeOf(() => net.forward({ data: new Int16Array(8 ** 3), shape: [1, 1, 8, 8, 8] } as unknown as Batch<Float32Array>))).toBe('ERR_INVALID_ARG');
  });

  it('an unknown config field, and bad values, name the field', async () => {
    await expect(ResUNet.create({ chanels: [4, 8] } as never)).rejects.toMatchObject({
      code: 'ERR_INVALID_CONFIG',
      message: expect.stringContaining("'chanels'"),
    });
    await expect(ResUNet.create({ optimizer: { name: 'sgd' } } as never)).rejects.toMatchObject({
      code: 'ERR_INVALID_CONFIG',
      message: expect.stringContaining('optimizer.name'),
    });
    await expect(ResUNet.create({ channels: [4, -8] })).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG', message: expect.stringContaining('channels[1]') });
    await expect(ResUNet.create({ dropout: 1.5 })).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG' });
  });

  it('asking for CUDA on a machine without it is ERR_CUDA_UNAVAILABLE (or works where CUDA exists)', async () => {
    if (loadBinding().backend().cudaAvailable) {
      const m = await ResUNet.create({ channels: [4, 8], device: 'cuda' });
      expect(m.device).toMatch(/^cuda/);
    } else {
      expect(await codeOf(ResUNet.create({ channels: [4, 8], device: 'cuda' }))).toBe('ERR_CUDA_UNAVAILABLE');
    }
  });

  it('errors raised inside LibTorch come back coded, without C++ backtraces', async () => {
    // weights of another architecture: the check happens natively
    const other = await ResUNet.create({ channels: [4, 8], device: 'cpu' });
    expect(await codeOf(net.setWeights(await other.getWeights()))).toBe('ERR_MODEL_MISMATCH');
    // raw binding: mismatched sizes reach LibTorch's own checks
    const b = loadBinding() as NativeBinding & NativeTestHooks;
    const err = await b._diceLoss({ data: new Float32Array(4), shape: [1, 1, 4] }, { data: new Float32Array(3), shape: [1, 1, 3] }, true).catch((e) => e);
    expect(err.code).toBe('ERR_SHAPE_MISMATCH');
  });

  it('the raw binding takes no defaults: a missing or mistyped field is ERR_INVALID_ARG naming it', async () => {
    const b = loadBinding();
    const thrown = (fn: () => unknown): unknown => {
      try {
        fn();
      } catch (e) {
        return e;
      }
      throw new Error('expected a throw');
    };
    const named = (field: string) => ({ code: 'ERR_INVALID_ARG', message: expect.stringContaining(`'${field}'`) });
    const optimizer = RAW_OPTIMIZER;
    const config = rawModelConfig();

    const noSeed: Record<string, unknown> = { ...config };
    delete noSeed.seed;
    expect(thrown(() => b.createModel(noSeed as never))).toMatchObject(named('seed'));
    expect(thrown(() => b.createModel({ ...config, optimizer: { ...optimizer, lr: '0.1' } } as never))).toMatchObject(named('optimizer.lr'));
    expect(thrown(() => b.createModel({ ...config, block: 'dense' } as never))).toMatchObject(named('block'));
    const m = await b.createModel(config as never);
    const predict = {
      sliding: false,
      overlap: 0.25,
      blend: 'gaussian',
      sigmaScale: 0.125,
      batchSize: 1,
      accumulate: 'auto',
      deviceLimitBytes: 2 ** 32,
      mirror: false,
      output: 'mask',
    };
    const volume = { data: new Float32Array(8), shape: [2, 2, 2] };
    const noLimit: Record<string, unknown> = { ...predict };
    delete noLimit.deviceLimitBytes;
    expect(thrown(() => m.predictVolume(volume, noLimit as never))).toMatchObject(named('deviceLimitBytes'));
    expect(thrown(() => m.predictVolume(volume, { ...predict, sliding: true } as never))).toMatchObject(named('roi'));
    expect(thrown(() => m.predictVolume(volume, { ...predict, intensity: { aMin: 0, aMax: 1, bMin: 0, bMax: 1 } } as never))).toMatchObject(
      named('intensity.clip'),
    );
    const out = await m.predictVolume(volume, predict as never);
    expect(out.shape).toEqual([1, 2, 2, 2]);
    m.dispose();
  });

  it('a disposed model rejects further calls; the process keeps working', async () => {
    const m = await ResUNet.create({ channels: [4, 8], device: 'cpu' });
    await m.dispose();
    expect(await codeOf(() => m.forward({ data: randomFloats(8), shape: [1, 1, 2, 2, 2] }))).toBe('ERR_INVALID_ARG');
    const y = await net.forward({ data: randomFloats(8 ** 3), shape: [1, 1, 8, 8, 8] });
    expect(y.data.length).toBe(8 ** 3);
  });
});
