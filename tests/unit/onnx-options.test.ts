/**
 * The options of the engines and the fine stage, checked before any work: segment()'s engine,
 * fineMode and maxVoxelsPerPass; which fine stage a region gets; which engine 'auto' picks when the
 * addon is switched off; a bundle's ONNX file name.
 */
import { segment } from '../../src/ts/inferers/segment';
import { defaultMaxVoxelsPerPass, resolveEngine, wholePassPlan, WHOLE_PASS_BUDGET_BYTES } from '../../src/ts/inferers/engine';
import { resolveArchitecture, estimateForwardBytes, DEFAULT_ARCHITECTURE } from '../../src/ts/nets/config';
import { onnxruntimeAvailability } from '../../src/ts/nets/backends/onnxruntime';
import { validateModelBundle } from '../../src/ts/bundle/format';
import type { Volume } from '../../src/ts/volume';

const ct: Volume<Int16Array> = {
  data: new Int16Array(8 * 8 * 8),
  shape: [8, 8, 8],
  spacing: [1, 1, 1],
  affine: [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ],
};

describe('segment() engine and fine-stage options', () => {
  it.each([
    ['engine', 'tensorrt', "'options.engine'"],
    ['fineMode', 'half', "'options.fineMode'"],
    ['maxVoxelsPerPass', 0, "'options.maxVoxelsPerPass'"],
    ['maxVoxelsPerPass', 1.5, "'options.maxVoxelsPerPass'"],
  ])('%s = %p is refused naming %s', async (key, value, name) => {
    await expect(segment(ct, { model: '/nonexistent/pipeline.json', [key]: value } as never)).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG',
      message: expect.stringContaining(name),
    });
  });
});

describe('the fine stage plan', () => {
  const arch = resolveArchitecture({});
  const window: [number, number, number] = [128, 128, 128];
  const ctx = { architecture: arch, onGpu: false };

  it('keeps windows when asked, and on CUDA under auto', () => {
    expect(wholePassPlan('windows', [328, 208, 121], window, 0.25, ctx)).toBeNull();
    expect(wholePassPlan('auto', [328, 208, 121], window, 0.25, { ...ctx, onGpu: true })).toBeNull();
  });

  it('runs one pass over the region, widened to the window where smaller, when it fits and saves work', () => {
    // 8 windows of 128^3 (16.8 M voxels) against one pass over 336 x 208 x 128 (8.9 M, about 5.5 GiB: above the default budget)
    const big = { ...ctx, maxVoxelsPerPass: 10_000_000 };
    expect(wholePassPlan('auto', [328, 208, 121], window, 0.25, big)).toEqual([328, 208, 128]);
    expect(wholePassPlan('whole', [328, 208, 121], window, 0.25, big)).toEqual([328, 208, 128]);
    expect(wholePassPlan('whole', [328, 208, 121], window, 0.25, ctx)).toBeNull();
    expect(wholePassPlan('auto', [240, 200, 121], window, 0.25, ctx)).toEqual([240, 200, 128]);
    // a region inside one window: the windows are that one pass already
    expect(wholePassPlan('auto', [100, 90, 80], window, 0.25, ctx)).toBeNull();
    expect(wholePassPlan('whole', [100, 90, 80], window, 0.25, ctx)).toEqual(window);
  });

  it('falls back to windows past maxVoxelsPerPass, whose default keeps a pass near 4 GiB', () => {
    expect(wholePassPlan('whole', [328, 208, 121], window, 0.25, { ...ctx, maxVoxelsPerPass: 8_000_000 })).toBeNull();
    const budget = defaultMaxVoxelsPerPass(arch);
    expect(budget).toBeGreaterThan(6_500_000);
    expect(budget).toBeLessThan(7_500_000);
    const side = Math.floor(Math.cbrt(budget));
    expect(1.2 * estimateForwardBytes(arch, [side, side, side])).toBeLessThanOrEqual(WHOLE_PASS_BUDGET_BYTES);
    expect(wholePassPlan('whole', [512, 512, 200], window, 0.25, ctx)).toBeNull();
    expect(defaultMaxVoxelsPerPass({ ...DEFAULT_ARCHITECTURE, channels: [64, 128, 256, 512, 1024] })).toBeLessThan(budget);
  });
});

describe("the engine 'auto' picks without the addon", () => {
  const saved = process.env.LIVERSEG_NATIVE;
  afterEach(() => {
    if (saved === undefined) delete process.env.LIVERSEG_NATIVE;
    else process.env.LIVERSEG_NATIVE = saved;
  });

  (onnxruntimeAvailability().available ? it : it.skip)(
    'is onnxruntime under LIVERSEG_NATIVE=off, saying so once; libtorch is refused with ERR_NATIVE_LOAD',
    () => {
      process.env.LIVERSEG_NATIVE = 'off';
      const writes: string[] = [];
      const spy = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (writes.push(String(s)), true));
      try {
        expect(resolveEngine('auto', 'cpu')).toEqual({ engine: 'onnxruntime', reason: 'the native addon is unavailable' });
        expect(resolveEngine(undefined, undefined).engine).toBe('onnxruntime');
      } finally {
        spy.mockRestore();
      }
      expect(writes).toEqual([
        expect.stringMatching(/^liverseg: the native addon is unavailable \(LIVERSEG_NATIVE=off\); running inference on onnxruntime-node [\d.]+ \(CPU\)\n$/),
      ]);
      expect(() => resolveEngine('libtorch', 'cpu')).toThrow(
        expect.objectContaining({ code: 'ERR_NATIVE_LOAD', message: expect.stringContaining('training needs the addon') }),
      );
      expect(() => resolveEngine('auto', 'cuda')).toThrow(
        expect.objectContaining({ code: 'ERR_NATIVE_LOAD', message: expect.stringContaining('CUDA needs the addon') }),
      );
    },
  );

  it('names LIVERSEG_ENGINE when it holds an unknown engine', () => {
    const old = process.env.LIVERSEG_ENGINE;
    process.env.LIVERSEG_ENGINE = 'cuda';
    try {
      expect(() => resolveEngine()).toThrow(/'LIVERSEG_ENGINE'/);
    } finally {
      if (old === undefined) delete process.env.LIVERSEG_ENGINE;
      else process.env.LIVERSEG_ENGINE = old;
    }
  });
});

describe("a bundle's ONNX file", () => {
  const bundle = {
    format: 'liverseg-model',
    formatVersion: 1,
    architecture: 'ResUNet3D',
    config: { channels: [4, 8] },
    weights: 'best.abc.safetensors',
    weightsSha256: 'ab',
    stage: 'fine',
    intensity: { aMin: -300, aMax: 300, bMin: 0, bMax: 1, clip: true },
    inputSize: [32, 32, 32],
  };

  it('is a file name inside the bundle folder, with its hashes', () => {
    expect(validateModelBundle({ ...bundle, onnx: 'best.abc.onnx', onnxSha256: 'cd', onnxWeightsSha256: 'ab' }, '/m/best.json').onnx).toBe('best.abc.onnx');
    expect(() => validateModelBundle({ ...bundle, onnx: '../elsewhere.onnx', onnxSha256: 'cd', onnxWeightsSha256: 'ab' }, '/m/best.json')).toThrow(
      /onnx "..\/elsewhere.onnx" points outside the folder/,
    );
    expect(() => validateModelBundle({ ...bundle, onnx: 'best.abc.onnx' }, '/m/best.json')).toThrow(/onnx needs onnxSha256 and onnxWeightsSha256/);
    expect(() => validateModelBundle({ ...bundle, onnx: 7 }, '/m/best.json')).toThrow(expect.objectContaining({ code: 'ERR_BUNDLE' }));
  });
});
