/**
 * Native memory safety at the boundary: an input whose ArrayBuffer is detached while a call runs
 * (transferred to a worker, or by structuredClone with transfer) and then overwritten by its new
 * owner must not reach the native work. Every call must settle with the result it would have had
 * without the detach, or a coded error; never a crash, a raw TypeError or a result computed from
 * the new owner's bytes. SharedArrayBuffer inputs (which cannot be detached) stay zero-copy.
 */
import { Worker } from 'worker_threads';
import type { NativeBinding, NativeModel, NativeModelConfig, NativePredictOptions, NativeTensor, NativeTestHooks } from '../../src/ts/native/binding';
import type { NativeArray } from '../../src/ts/native/dtypes';
import { loadBinding } from '../../src/ts/native/loader';
import { rawModelConfig } from '../helpers/native-config';
import { largestComponent, resizeNative } from '../../src/ts/native/ops';
import { ERROR_CODES } from '../../src/ts/errors';
import type { Vec3 } from '../../src/ts/volume';

const b = loadBinding() as NativeBinding & NativeTestHooks;

const config: NativeModelConfig = rawModelConfig({ precision: 'off', seed: 3 });
const predict: NativePredictOptions = {
  sliding: true,
  roi: [8, 8, 8],
  overlap: 0.25,
  blend: 'gaussian',
  sigmaScale: 0.125,
  batchSize: 2,
  accumulate: 'auto',
  deviceLimitBytes: 2 ** 32,
  mirror: false,
  output: 'probabilities',
};

/** A deterministic pseudo-random generator (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// A worker that takes transferred arrays, overwrites them and drops them: the new owner of the memory.
const SCRIBBLER = `
const { parentPort } = require('worker_threads');
parentPort.on('message', (a) => { a.fill(a instanceof Float32Array ? 1e4 : 77); });
`;

type Detach = 'structuredClone' | 'worker';
type Moment = 'sync' | 'microtask' | 'nextTick' | 'immediate' | 'timeout0' | 'timeoutRandom';
const MOMENTS: Moment[] = ['sync', 'microtask', 'nextTick', 'immediate', 'timeout0', 'timeoutRandom'];

describe('detaching an input buffer while a native call runs', () => {
  let worker: Worker;
  let model: NativeModel;
  const random = rng(20240915);

  beforeAll(async () => {
    worker = new Worker(SCRIBBLER, { eval: true });
    model = await b.createModel(config);
  });
  afterAll(async () => {
    model.dispose();
    await worker.terminate();
  });

  /** Detaches `a`'s buffer by `how`; the new owner overwrites the memory right away. */
  function detach(a: NativeArray, how: Detach): void {
    if (how === 'structuredClone') {
      const moved = structuredClone(a, { transfer: [a.buffer as ArrayBuffer] });
      moved.fill(moved instanceof Float32Array ? 1e4 : 77);
    } else {
      worker.postMessage(a, [a.buffer as ArrayBuffer]);
    }
    expect(a.length).toBe(0); // really detached
  }

  function at(moment: Moment, fn: () => void): Promise<void> {
    return new Promise((resolve) => {
      const run = () => {
        fn();
        resolve();
      };
      switch (moment) {
        case 'sync':
          return run();
        case 'microtask':
          return queueMicrotask(run);
        case 'nextTick':
          return process.nextTick(run);
        case 'immediate':
          return void setImmediate(run);
        case 'timeout0':
          return void setTimeout(run, 0);
        case 'timeoutRandom':
          return void setTimeout(run, Math.floor(random() * 4));
      }
    });
  }

  /**
   * Runs `call` on fresh copies of `input` `iterations` times, detaching the copy at every moment
   * and by both means in turn; returns how the calls settled.
   */
  async function hammer<T>(input: NativeArray, call: (a: NativeArray) => Promise<T>, same: (out: T) => boolean, iterations: number) {
    const tally = { correct: 0, coded: 0 };
    const problems: string[] = [];
    for (let n = 0; n < iterations; n++) {
      const moment = MOMENTS[n % MOMENTS.length];
      const how: Detach = Math.floor(n / MOMENTS.length) % 2 === 0 ? 'structuredClone' : 'worker';
      const a = input.slice() as NativeArray;
      const settled = call(a).then(
        (out) => (same(out) ? 'correct' : 'wrong'),
        (e: unknown) => {
          const code = (e as { code?: string })?.code;
          if (e instanceof TypeError || !code || !(ERROR_CODES as readonly string[]).includes(code)) return `uncoded ${String(e)}`;
          return 'coded';
        },
      );
      await at(moment, () => detach(a, how));
      const r = await settled;
      if (r === 'correct') tally.correct++;
      else if (r === 'coded') tally.coded++;
      else problems.push(`#${n} ${how} at ${moment}: ${r}`);
    }
    expect(problems).toEqual([]);
    return tally;
  }

  const close = (a: ArrayLike<number>, e: ArrayLike<number>, tol = 1e-5) =>
    a.length === e.length && Array.prototype.every.call(a, (v: number, i: number) => Math.abs(v - e[i]) <= tol);
  const equal = (a: ArrayLike<number>, e: ArrayLike<number>) => a.length === e.length && Array.prototype.every.call(a, (v: number, i: number) => v === e[i]);

  it('forward', async () => {
    const images = Float32Array.from({ length: 8 ** 3 }, () => random() * 2 - 1);
    const tensor = (a: NativeArray): NativeTensor<Float32Array> => ({ data: a as Float32Array, shape: [1, 1, 8, 8, 8] });
    const ref = await model.forward(tensor(images.slice()));
    const t = await hammer(
      images,
      (a) => model.forward(tensor(a)),
      (out) => close(out.data, ref.data),
      36,
    );
    expect(t.correct + t.coded).toBe(36);
  });

  it('predictVolume', async () => {
    const volume = Int16Array.from({ length: 10 * 9 * 12 }, () => Math.floor(random() * 400 - 200));
    const tensor = (a: NativeArray) => ({ data: a, shape: [12, 9, 10] });
    const opts = { ...predict, intensity: { aMin: -200, aMax: 200, bMin: 0, bMax: 1, clip: true } };
    const ref = await model.predictVolume(tensor(volume.slice()), opts);
    const t = await hammer(
      volume,
      (a) => model.predictVolume(tensor(a), opts),
      (out) => close(out.data as Float32Array, ref.data as Float32Array),
      36,
    );
    expect(t.correct + t.coded).toBe(36);
  });

  it('resize (raw binding and resizeNative)', async () => {
    const shape: Vec3 = [7, 6, 5];
    const volume = Int16Array.from({ length: 7 * 6 * 5 }, () => Math.floor(random() * 2000 - 1000));
    const size: Vec3 = [11, 4, 9];
    const refNearest = await resizeNative(volume.slice(), shape, size, 'nearest');
    const refArea = await b.resize({ data: volume.slice(), shape: [5, 6, 7] }, [9, 4, 11], 'area');
    await hammer(
      volume,
      (a) => resizeNative(a, shape, size, 'nearest'),
      (out) => equal(out, refNearest),
      36,
    );
    await hammer(
      volume,
      (a) => b.resize({ data: a, shape: [5, 6, 7] }, [9, 4, 11], 'area'),
      (out) => close(out.data, refArea.data, 1e-3),
      24,
    );
  });

  it('largestComponent (raw binding and the TypeScript wrapper)', async () => {
    const shape: Vec3 = [12, 10, 8];
    const m = Uint8Array.from({ length: 12 * 10 * 8 }, () => (random() < 0.3 ? 1 + Math.floor(random() * 2) : 0));
    const ref = await largestComponent(m.slice(), shape, 26);
    expect(ref.keptVoxels).toBeGreaterThan(0);
    await hammer(
      m,
      (a) => largestComponent(a as Uint8Array, shape, 26),
      (out) => equal(out.mask, ref.mask) && out.keptVoxels === ref.keptVoxels,
      36,
    );
    const ref6 = await b.largestComponent({ data: m.slice(), shape: [8, 10, 12] }, 6);
    await hammer(
      m,
      (a) => b.largestComponent({ data: a as Uint8Array, shape: [8, 10, 12] }, 6),
      (out) => equal(out.data, ref6.data) && out.totalVoxels === ref6.totalVoxels,
      18,
    );
  });

  it('an input detached before the call is a coded error, not a TypeError', async () => {
    const a = new Float32Array(8);
    structuredClone(a, { transfer: [a.buffer] });
    // The raw binding throws argument errors synchronously; the TypeScript layer rejects.
    const e = await (async () => b.resize({ data: a, shape: [2, 2, 2] }, [2, 2, 2], 'nearest'))().catch((err: unknown) => err);
    expect(e).not.toBeInstanceOf(TypeError);
    expect(e).toMatchObject({ code: 'ERR_SHAPE_MISMATCH' });
    const m = new Uint8Array(8);
    structuredClone(m, { transfer: [m.buffer] });
    await expect(largestComponent(m, [2, 2, 2])).rejects.toMatchObject({ code: 'ERR_SHAPE_MISMATCH' });
  });
});

describe('which inputs are copied', () => {
  it('an ArrayBuffer-backed array is copied when the call starts; a SharedArrayBuffer-backed one is read in place', () => {
    expect(b._isZeroCopy(new Float32Array(4))).toBe(false);
    expect(b._isZeroCopy(new Int16Array(new ArrayBuffer(16), 4, 2))).toBe(false);
    expect(b._isZeroCopy(new Float32Array(new SharedArrayBuffer(16)))).toBe(true);
    expect(b._isZeroCopy(new Uint8Array(new SharedArrayBuffer(16), 8))).toBe(true);
  });

  it('an ArrayBuffer-backed input changed after the call returns does not change the result', async () => {
    const data = new Int16Array(64).fill(5);
    const p = b.resize({ data, shape: [4, 4, 4] }, [4, 4, 4], 'nearest');
    data.fill(-1);
    expect(Array.from((await p).data)).toEqual(new Array(64).fill(5));
  });

  it('a SharedArrayBuffer-backed input gives the same result as a copy', async () => {
    const shared = new Int16Array(new SharedArrayBuffer(64 * 2));
    for (let i = 0; i < 64; i++) shared[i] = i * 3 - 90;
    const a = await b.resize({ data: shared, shape: [4, 4, 4] }, [2, 3, 5], 'area');
    const c = await b.resize({ data: shared.slice(), shape: [4, 4, 4] }, [2, 3, 5], 'area');
    expect(Array.from(a.data)).toEqual(Array.from(c.data));
  });

  it('the cancel flag of predictVolume must live in a SharedArrayBuffer', async () => {
    const m = await b.createModel(config);
    const volume = { data: new Float32Array(8 ** 3), shape: [8, 8, 8] };
    expect(() => m.predictVolume(volume, predict, new Int32Array(1))).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringContaining("'cancel'") }),
    );
    const flag = new Int32Array(new SharedArrayBuffer(4));
    expect((await m.predictVolume(volume, predict, flag)).shape).toEqual([1, 8, 8, 8]);
    flag[0] = 1;
    await expect(m.predictVolume(volume, predict, flag)).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    m.dispose();
  });
});
