/**
 * Bad input through the public API: each case ends in a LiversegError with its code, naming
 * what was wrong, and the process goes on. Models are tiny and untrained; what is checked is
 * the refusal, not a segmentation.
 */
import { execFileSync } from 'child_process';
import { promises as fsp } from 'fs';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { saveModel } from '../../src/ts/bundle/load-model';
import { writePipeline } from '../../src/ts/bundle/pipeline-file';
import { readModelBundle } from '../../src/ts/bundle/format';
import { LiversegError } from '../../src/ts/errors';
import { clearPipelineCache, loadPipeline, LoadedPipeline } from '../../src/ts/inferers/pipeline';
import { segment } from '../../src/ts/inferers/segment';
import { writeBytesAtomic } from '../../src/ts/io/atomic-write';
import { loadVolume } from '../../src/ts/io/nifti-read';
import { saveVolume } from '../../src/ts/io/nifti-write';
import { ResUNet } from '../../src/ts/nets/resunet';
import { train } from '../../src/ts/engines/trainer';
import { createProgress } from '../../src/ts/engines/progress';
import type { Volume } from '../../src/ts/volume';

const SHAPE: [number, number, number] = [24, 24, 16];
const INTENSITY = { aMin: -300, aMax: 300, bMin: 0, bMax: 1, clip: true };

async function rejection(p: Promise<unknown> | (() => unknown)): Promise<LiversegError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(LiversegError);
    return e as LiversegError;
  }
  throw new Error('expected a rejection');
}

function ct(data: Volume['data'] = new Float32Array(SHAPE[0] * SHAPE[1] * SHAPE[2]).fill(40)): Volume {
  return {
    data,
    shape: [...SHAPE],
    spacing: [1, 1, 2],
    // LPS-like: two flipped axes, so segment() reorients and needs the header to be right.
    affine: [
      [-1, 0, 0, 10],
      [0, -1, 0, 20],
      [0, 0, 2, 30],
      [0, 0, 0, 1],
    ],
  };
}

describe('bad input is a coded error', () => {
  let dir: string;
  let pipeline: LoadedPipeline;
  let pipelinePath: string;

  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'liverseg-bad-input-'));
    const net = await ResUNet.create({ channels: [4, 8], device: 'cpu' });
    await saveModel(path.join(dir, 'coarse.json'), net, { stage: 'coarse', intensity: INTENSITY, inputSize: [16, 16, 16] });
    await saveModel(path.join(dir, 'fine.json'), net, { stage: 'fine', intensity: INTENSITY, inputSize: [16, 16, 16] });
    await net.dispose();
    pipelinePath = path.join(dir, 'pipeline.json');
    await writePipeline(pipelinePath, path.join(dir, 'coarse.json'), path.join(dir, 'fine.json'), 2);
    pipeline = await loadPipeline(pipelinePath, { device: 'cpu' });
  });
  afterAll(async () => {
    await clearPipelineCache();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  describe('voxel values', () => {
    it.each([
      ['NaN', Number.NaN],
      ['+Infinity', Infinity],
    ])('a %s voxel is ERR_NON_FINITE', async (_name, v) => {
      const data = new Float32Array(SHAPE[0] * SHAPE[1] * SHAPE[2]).fill(10);
      data[123] = v;
      const e = await rejection(segment(ct(data), { model: pipeline }));
      expect(e.code).toBe('ERR_NON_FINITE');
      expect(e.message).toContain('index 123');
    });

    it('a Float64 voxel beyond float32 range is ERR_NON_FINITE, not an empty mask', async () => {
      const data = new Float64Array(SHAPE[0] * SHAPE[1] * SHAPE[2]).fill(1e308);
      const e = await rejection(segment(ct(data), { model: pipeline }));
      expect(e.code).toBe('ERR_NON_FINITE');
      expect(e.message).toMatch(/float32/);
    });
  });

  describe('array and header types', () => {
    const n = SHAPE[0] * SHAPE[1] * SHAPE[2];
    it.each([
      ['BigInt64Array', () => new BigInt64Array(n)],
      ['BigUint64Array', () => new BigUint64Array(n)],
    ])('%s data is ERR_INVALID_ARG in segment() and saveVolume()', async (name, make) => {
      const v = ct(make() as unknown as Volume['data']);
      for (const e of [await rejection(segment(v, { model: pipeline })), await rejection(saveVolume(path.join(dir, 'x.nii'), v))]) {
        expect(e.code).toBe('ERR_INVALID_ARG');
        expect(e.message).toContain(name);
      }
    });

    it('Uint8ClampedArray data is ERR_INVALID_ARG in saveVolume()', async () => {
      const e = await rejection(saveVolume(path.join(dir, 'x.nii'), ct(new Uint8ClampedArray(n) as unknown as Volume['data'])));
      expect(e.code).toBe('ERR_INVALID_ARG');
      expect(e.message).toContain('Uint8ClampedArray');
    });

    it.each([
      ['an empty object', {}, 'volume.header.version'],
      ['a string', 'header', 'volume.header'],
      ['a numeric description', 'description', 'volume.header.description'],
      ['a null srowX', 'srowX', 'volume.header.srowX'],
    ])('a header that is %s is named in segment() and saveVolume()', async (_what, spec, field) => {
      const good = (await loadVolume(await writeSample(dir))).header!;
      const header = spec === 'description' ? { ...good, description: 123 } : spec === 'srowX' ? { ...good, srowX: null } : spec;
      const v = { ...ct(), header } as unknown as Volume;
      for (const e of [await rejection(segment(v, { model: pipeline })), await rejection(saveVolume(path.join(dir, 'y.nii'), v))]) {
        expect(e.code).toBe('ERR_INVALID_ARG');
        expect(e.message).toContain(`'${field}'`);
      }
    });
  });

  describe('options', () => {
    it.each([
      [{ fine: null }, 'options.model'],
      [{ kind: 'two-stage', fine: {} }, 'options.model.fine'],
    ])('a fake loaded pipeline %p is refused, naming %s', async (model, field) => {
      const e = await rejection(segment(ct(), { model: model as never }));
      expect(e.code).toBe('ERR_INVALID_ARG');
      expect(e.message).toContain(`'${field}`);
    });

    it('a pipeline margin of 2.5 is refused, in a loaded pipeline and in a file', async () => {
      const e = await rejection(segment(ct(), { model: { ...pipeline, margin: 2.5 } }));
      expect(e.message).toContain("'options.model.margin'");
      const file = path.join(dir, 'bad-margin.json');
      await fsp.writeFile(file, JSON.stringify({ ...JSON.parse(await fsp.readFile(pipelinePath, 'utf8')), margin: 2.5 }));
      expect((await rejection(loadPipeline(file))).code).toBe('ERR_BUNDLE');
    });

    it.each([
      ['signal', { aborted: false }, 'options.signal'],
      ['keepLargestComponent', 'no', 'options.keepLargestComponent'],
      ['mirror', 1, 'options.mirror'],
      ['windowsPerBatch', 0, 'options.windowsPerBatch'],
    ])('%s given as %p is named as the caller wrote it', async (key, value, field) => {
      const e = await rejection(segment(ct(), { model: pipeline, [key]: value }));
      expect(e.code).toBe('ERR_INVALID_ARG');
      expect(e.message).toContain(`'${field}'`);
    });

    it('an overlap that needs too many windows is refused before any work', async () => {
      // Windows of 16^3 every voxel (overlap 0.99): 81 x 81 x 17 = 111,537 of them.
      const big: Volume = { ...ct(new Float32Array(96 * 96 * 32).fill(0)), shape: [96, 96, 32] };
      const single = { ...pipeline, kind: 'single' as const, coarse: undefined, margin: 0 };
      const e = await rejection(segment(big, { model: single, overlap: 0.99 }));
      expect(e.code).toBe('ERR_INVALID_ARG');
      expect(e.message).toMatch(/'options.overlap'.*windows/);
    });
  });

  describe('model files are untrusted', () => {
    it('a weights path leaving the bundle folder is refused before it is opened', async () => {
      const bundle = JSON.parse(await fsp.readFile(path.join(dir, 'fine.json'), 'utf8'));
      const file = path.join(dir, 'escape.json');
      await fsp.writeFile(file, JSON.stringify({ ...bundle, weights: '../../etc/passwd' }));
      const e = await rejection(readModelBundle(file));
      expect(e.code).toBe('ERR_BUNDLE');
      expect(e.message).toMatch(/points outside the folder/);
    });

    it.each([
      ['a coarse input of 4096^3', { inputSize: [4096, 4096, 4096] }],
      // 7 levels of 4096 channels: about 64 GiB of float32 weights, past any machine this runs on.
      [
        '64 GiB of parameters',
        { config: { inChannels: 1, outChannels: 1, channels: [4096, 4096, 4096, 4096, 4096, 4096, 4096], block: 'residual', dropout: 0 } },
      ],
    ])('a 1 KB bundle asking for %s is refused from its size estimate', async (_what, patch) => {
      const bundle = JSON.parse(await fsp.readFile(path.join(dir, 'coarse.json'), 'utf8'));
      const file = path.join(dir, 'huge.json');
      await fsp.writeFile(file, JSON.stringify({ ...bundle, ...patch }));
      const rss = process.memoryUsage().rss;
      const e = await rejection(loadPipeline(file));
      expect(e.code).toBe('ERR_BUNDLE');
      expect(e.message).toMatch(/needs about [\d.]+ (GiB|TiB)/);
      expect(process.memoryUsage().rss - rss).toBeLessThan(256 * 2 ** 20);
    });

    it('ResUNet.create refuses a network that cannot fit, as ERR_TORCH_OOM in our words', async () => {
      const e = await rejection(ResUNet.create({ channels: [4096, 4096, 4096], device: 'cpu' }));
      expect(e.code).toBe('ERR_TORCH_OOM');
      expect(e.message).toMatch(/needs about .* GiB/);
    });
  });

  describe('files', () => {
    it('a FIFO given as a NIfTI path is refused at once, and four of them do not starve the thread pool', async () => {
      const fifos = [0, 1, 2, 3].map((i) => path.join(dir, `pipe${i}.nii`));
      for (const f of fifos) execFileSync('mkfifo', [f]);
      const errors = await Promise.all(fifos.map((f) => rejection(loadVolume(f))));
      for (const e of errors) expect(e.message).toMatch(/FIFO/);
      // The pool still serves: a real load and an in-memory segment() both settle.
      const real = await loadVolume(await writeSample(dir));
      expect(real.shape).toEqual(SHAPE);
      const mask = await segment(ct(), { model: pipeline });
      expect(mask.shape).toEqual(SHAPE);
    });

    it("a killed save's temporary file is removed by the next save of that file", async () => {
      const target = path.join(dir, 'state.json');
      // A temp file left by a writer that no longer runs: 4194305 is above Linux's largest pid (2^22).
      const deadPid = 4194305;
      const stale = path.join(dir, `.state.json.${deadPid}.0123456789ab.tmp`);
      fs.writeFileSync(stale, 'half a file');
      await writeBytesAtomic(target, Buffer.from('{}'));
      expect(fs.existsSync(stale)).toBe(false);
      expect(fs.readFileSync(target, 'utf8')).toBe('{}');
    });

    it('train() with an output path that is a file, or under a file, is ERR_INVALID_CONFIG and writes nothing', async () => {
      const file = path.join(dir, 'a-file');
      fs.writeFileSync(file, 'x');
      const data = path.join(dir, 'data');
      fs.mkdirSync(data, { recursive: true });
      fs.writeFileSync(path.join(data, 'dataset.json'), JSON.stringify({ training: [] }));
      for (const output of [file, path.join(file, 'under')]) {
        const e = await rejection(train({ data, output, epochs: 1 }, { progress: createProgress(process.stderr, true) }));
        expect(e.code).toBe('ERR_INVALID_CONFIG');
        expect(e.message).toContain("'output'");
      }
    });

    it('train() with an invalid model setting fails before the output folder is made', async () => {
      const data = path.join(dir, 'data');
      const output = path.join(dir, 'never-made');
      const e = await rejection(train({ data, output, channels: [8, 0] }, { progress: createProgress(process.stderr, true) }));
      expect(e.code).toBe('ERR_INVALID_CONFIG');
      expect(fs.existsSync(output)).toBe(false);
    });
  });
});

async function writeSample(dir: string): Promise<string> {
  const file = path.join(dir, 'sample.nii.gz');
  if (!fs.existsSync(file)) await saveVolume(file, ct(new Float32Array(SHAPE[0] * SHAPE[1] * SHAPE[2]).fill(5)));
  return file;
}
