/**
 * The onnxruntime engine against LibTorch: the exported graph's logits equal the addon's forward
 * within 1e-4 (cubic, odd and flat sizes), whole-volume predictions (sliding windows with Gaussian
 * blending, one pass, mirroring) agree, and the TypeScript voxel operations of the no-addon path
 * equal the native ones.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { largestComponent, labelComponents, resizeNative } from '../../src/ts/native/ops';
import { ResUNet } from '../../src/ts/nets/resunet';
import { OnnxResUNet } from '../../src/ts/nets/backends/onnx-net';
import { onnxruntimeAvailability } from '../../src/ts/nets/backends/onnxruntime';
import { labelComponentsTs, largestComponentTs } from '../../src/ts/nets/backends/components';
import { resizeAreaData } from '../../src/ts/transforms/resize';
import { exportOnnx } from '../../src/ts/inferers/export-onnx';
import { resolveEngine } from '../../src/ts/inferers/engine';
import type { Vec3 } from '../../src/ts/volume';

const ort = onnxruntimeAvailability();
const describeOrt = ort.available ? describe : describe.skip;
const INTENSITY = { aMin: -300, aMax: 300, bMin: 0, bMax: 1, clip: true };

function hu(shape: Vec3, seed: number): Int16Array {
  // a smooth blob of "tissue" in noise: enough structure that the masks are not trivially empty or full
  const [ni, nj, nk] = shape;
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  const out = new Int16Array(ni * nj * nk);
  for (let k = 0, p = 0; k < nk; k++)
    for (let j = 0; j < nj; j++)
      for (let i = 0; i < ni; i++, p++) {
        const r = Math.hypot((i - ni / 2) / ni, (j - nj / 2) / nj, (k - nk / 2) / nk);
        out[p] = Math.round((r < 0.3 ? 80 : -200) + 120 * Math.sin(i * 0.3 + j * 0.2) + 60 * (u() - 0.5));
      }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function agreement(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) same += a[i] === b[i] ? 1 : 0;
  return same / a.length;
}

describeOrt('the onnxruntime engine against LibTorch', () => {
  let torch: ResUNet;
  let onnx: OnnxResUNet;
  beforeAll(async () => {
    torch = await ResUNet.create({ device: 'cpu', seed: 7 });
    onnx = await OnnxResUNet.fromWeights(torch.architecture, await torch.getWeights());
  }, 120_000);
  afterAll(async () => {
    await torch?.dispose();
    await onnx?.dispose();
  });

  it.each([[[32, 32, 32] as Vec3], [[37, 29, 23] as Vec3], [[64, 48, 17] as Vec3]])(
    'gives the LibTorch forward pass within 1e-4 at %p (default 5-level network)',
    async (shape) => {
      const n = shape[0] * shape[1] * shape[2];
      const data = Float32Array.from(hu(shape, 3), (v) => (v + 300) / 600);
      const batch = { data, shape: [1, 1, ...shape] as [number, number, number, number, number] };
      const [a, b] = [await torch.forward(batch), await onnx.forward(batch)];
      expect(b.shape).toEqual(a.shape);
      expect(a.data).toHaveLength(n);
      expect(maxAbsDiff(a.data, b.data)).toBeLessThan(1e-4);
    },
  );

  it('predicts whole volumes as LibTorch does: sliding windows (Gaussian, overlap 0.25), one pass, mirroring', async () => {
    const small = await ResUNet.create({ device: 'cpu', seed: 3, channels: [8, 16, 32, 64] });
    const smallOnnx = await OnnxResUNet.fromWeights(small.architecture, await small.getWeights());
    try {
      const shape: Vec3 = [70, 52, 41];
      const volume = { data: hu(shape, 11), shape };
      const sliding = { roi: [32, 32, 32] as Vec3, overlap: 0.25, blend: 'gaussian' as const, intensity: INTENSITY, batchSize: 2 };
      const pa = await small.predictVolume(volume, { ...sliding, output: 'probabilities' });
      const pb = await smallOnnx.predictVolume(volume, { ...sliding, output: 'probabilities' });
      expect(pb.shape).toEqual(pa.shape);
      expect(maxAbsDiff(pa.data, pb.data)).toBeLessThan(1e-4);
      const ma = await small.predictVolume(volume, { ...sliding, output: 'mask' });
      const mb = await smallOnnx.predictVolume(volume, { ...sliding, output: 'mask' });
      expect(agreement(ma.data, mb.data)).toBeGreaterThanOrEqual(0.999);
      const fg = ma.data.reduce((s, v) => s + v, 0) / ma.data.length;
      expect(fg).toBeGreaterThan(0.01);
      expect(fg).toBeLessThan(0.99);

      const one = { sliding: false, intensity: INTENSITY, output: 'logits' as const };
      expect(maxAbsDiff((await small.predictVolume(volume, one)).data, (await smallOnnx.predictVolume(volume, one)).data)).toBeLessThan(1e-4);

      const tiny: Vec3 = [20, 24, 18]; // smaller than the window on two axes: padded, as MONAI pads
      const tv = { data: hu(tiny, 5), shape: tiny };
      const mirror = { ...sliding, mirror: true, output: 'logits' as const };
      expect(maxAbsDiff((await small.predictVolume(tv, mirror)).data, (await smallOnnx.predictVolume(tv, mirror)).data)).toBeLessThan(1e-4);
    } finally {
      await small.dispose();
      await smallOnnx.dispose();
    }
  }, 120_000);

  it('loads an exported .onnx file into the same network', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'liverseg-onnx-'));
    try {
      const file = path.join(dir, 'net.onnx');
      const r = await exportOnnx(torch, file);
      expect(r).toMatchObject({ path: file, irVersion: 8, opset: 17, input: 'image', output: 'logits' });
      expect(fs.statSync(file).size).toBe(r.bytes);
      const fromFile = await OnnxResUNet.fromOnnx(fs.readFileSync(file), torch.architecture, { threads: onnx.threads });
      const batch = {
        data: Float32Array.from({ length: 16 ** 3 }, (_, i) => Math.cos(i)),
        shape: [1, 1, 16, 16, 16] as [number, number, number, number, number],
      };
      expect(maxAbsDiff((await fromFile.forward(batch)).data, (await onnx.forward(batch)).data)).toBe(0);
      await fromFile.dispose();
      await expect(fromFile.forward(batch)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the no-addon voxel operations equal the native ones', () => {
  function randomMask(shape: Vec3, seed: number, density: number): Uint8Array {
    let s = seed >>> 0;
    const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
    return Uint8Array.from({ length: shape[0] * shape[1] * shape[2] }, () => (u() < density ? 1 : 0));
  }

  it('largest component and labels, on random masks with many ties', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const shape: Vec3 = [9 + (seed % 7), 8 + (seed % 3), 7 + (seed % 5)];
      const mask = randomMask(shape, seed, 0.1 + 0.02 * (seed % 8));
      const a = await largestComponent(mask, shape);
      const b = largestComponentTs(mask, shape);
      expect({ seed, same: Buffer.from(a.mask).equals(Buffer.from(b.mask)), components: b.components, kept: b.keptVoxels }).toEqual({
        seed,
        same: true,
        components: a.components,
        kept: a.keptVoxels,
      });
      const la = await labelComponents(mask, shape);
      const lb = labelComponentsTs(mask, shape);
      expect(lb.sizes).toEqual(la.sizes);
      expect(Buffer.from(lb.labels.buffer).equals(Buffer.from(la.labels.buffer, la.labels.byteOffset, la.labels.byteLength))).toBe(true);
    }
  });

  it("area resize (PyTorch's adaptive-average bins)", async () => {
    for (const [shape, size] of [
      [
        [61, 47, 33],
        [32, 32, 16],
      ],
      [
        [20, 20, 20],
        [48, 48, 32],
      ],
      [
        [512, 100, 9],
        [128, 128, 128],
      ],
    ] as Array<[Vec3, Vec3]>) {
      const data = hu(shape, 2);
      const a = await resizeNative(data, shape, size, 'area');
      const b = resizeAreaData(data, shape, size);
      expect(maxAbsDiff(a, b)).toBeLessThan(1e-3); // HU values: float32 sums in another order
    }
  });
});

describe('the engine auto picks', () => {
  it('onnxruntime on the CPU where it is installed, LibTorch when asked for', () => {
    expect(resolveEngine('auto', 'cpu').engine).toBe(ort.available ? 'onnxruntime' : 'libtorch');
    expect(resolveEngine('libtorch', 'cpu')).toEqual({ engine: 'libtorch', reason: 'asked for' });
    if (ort.available) expect(() => resolveEngine('onnxruntime', 'cuda:0')).toThrow(/runs on the CPU/);
    expect(() => resolveEngine('tensorrt' as never, 'cpu')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
  });
});
