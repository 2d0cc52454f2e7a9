import { spawnSync } from 'child_process';
import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LiversegError } from '../../src/ts/errors';
import { readBundleWeights, readModelBundle, readPipeline, saveModelBundle, writePipeline } from '../../src/ts/bundle';
import { loadVolume } from '../../src/ts/io/nifti-read';
import { saveVolume } from '../../src/ts/io/nifti-write';
import { toCanonical } from '../../src/ts/geometry/orientation';
import { maskDice } from '../../src/ts/metrics/dice';
import { clearPipelineCache, loadPipeline } from '../../src/ts/inferers/pipeline';
import { segment } from '../../src/ts/inferers/segment';
import { axisMapVolume } from '../../src/ts/transforms/ops';
import { flip } from '../../src/ts/transforms/rand-flip';
import type { Volume } from '../../src/ts/volume';
import { onCpu, testDevice } from '../helpers/device';

function agreement(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) same += a[i] === b[i] ? 1 : 0;
  return same / a.length;
}
import { TrainedPipeline, trainedPipeline } from '../helpers/trained-pipeline';

const CT = path.join(__dirname, '..', 'fixtures', 'ct-sample', 'imagesTr', 'ct_sample.nii.gz');
const GEOMETRY_KEYS = [
  'dims',
  'pixdim',
  'qformCode',
  'sformCode',
  'quaternB',
  'quaternC',
  'quaternD',
  'qoffsetX',
  'qoffsetY',
  'qoffsetZ',
  'srowX',
  'srowY',
  'srowZ',
  'xyztUnits',
] as const;

async function cases(folder: string): Promise<Array<{ image: string; label: string }>> {
  const ds = JSON.parse(await fsp.readFile(path.join(folder, 'dataset.json'), 'utf8')) as { training: { image: string; label: string }[] };
  return ds.training.map((c) => ({ image: path.resolve(folder, c.image), label: path.resolve(folder, c.label) }));
}

describe('segment(): coarse-to-fine liver segmentation', () => {
  let tp: TrainedPipeline;
  let tmp: string;

  beforeAll(async () => {
    tp = await trainedPipeline();
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'liverseg-segment-'));
  }, 1800000);
  afterAll(async () => {
    await clearPipelineCache();
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  it('segments phantoms it never saw with Dice > 0.85, from a .nii.gz path to a mask file in the input geometry', async () => {
    const scores: number[] = [];
    for (const [i, c] of (await cases(tp.unseen)).entries()) {
      const mask = await segment(c.image, { model: tp.pipeline, device: testDevice });
      expect(mask.liverFound).toBe(true);
      const out = path.join(tmp, `mask_${i}.nii.gz`);
      await saveVolume(out, mask);
      const written = await loadVolume(out);
      const ct = await loadVolume(c.image);
      expect(written.shape).toEqual(ct.shape);
      expect(written.affine).toEqual(ct.affine);
      for (const k of GEOMETRY_KEYS) expect([k, written.header![k]]).toEqual([k, ct.header![k]]);
      expect(written.header!.datatype).toBe(2);
      scores.push(maskDice(written.data, (await loadVolume(c.label)).data));
      expect(mask.timings.total).toBeGreaterThan(0);
      expect(mask.roi).not.toBeNull();
    }
    const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
    expect(mean).toBeGreaterThan(0.85);
  });

  it('liverseg-segment segments a folder and prints per-case and mean Dice with --labels', async () => {
    const out = path.join(tmp, 'cli-out');
    const r = spawnSync(
      process.execPath,
      [
        path.join(__dirname, '..', '..', 'lib', 'cli', 'segment.js'),
        '-m',
        tp.pipeline,
        path.join(tp.unseen, 'imagesTr'),
        '-o',
        out,
        '--labels',
        path.join(tp.unseen, 'labelsTr'),
        '--device',
        testDevice,
      ],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\[1\/3\].*Dice 0\.\d+/);
    expect(r.stdout).toMatch(/mean Dice over 3 case\(s\): 0\.\d+/);
    expect((await fsp.readdir(out)).length).toBe(3);
    const bad = spawnSync(
      process.execPath,
      [path.join(__dirname, '..', '..', 'lib', 'cli', 'segment.js'), '-m', path.join(tmp, 'none.json'), CT, '-o', path.join(tmp, 'x.nii.gz')],
      {
        encoding: 'utf8',
      },
    );
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/ERR_FILE_NOT_FOUND/);
  });

  it('gives the same mask on the real CT whatever the orientation of the file', async () => {
    const ct = await loadVolume(CT);
    const pipeline = await loadPipeline(tp.pipeline, { device: testDevice });
    const reference = await segment(ct, { model: pipeline });
    expect(reference.shape).toEqual(ct.shape);
    expect(reference.affine).toEqual(ct.affine);
    const refCanon = toCanonical(reference).volume;
    const variants: Array<[string, Volume]> = [
      ['flipped i and j', flip(ct, [0, 1])],
      ['permuted (k, i, j)', axisMapVolume(ct, { axis: [2, 0, 1], sign: [1, 1, 1] })],
      ['flipped k and permuted (j, k, i)', axisMapVolume(flip(ct, [2]), { axis: [1, 2, 0], sign: [1, 1, 1] })],
    ];
    for (const [name, v] of variants) {
      const file = path.join(tmp, `ct_${name.replace(/\W+/g, '_')}.nii.gz`);
      await saveVolume(file, v);
      const m = await segment(file, { model: pipeline });
      const input = await loadVolume(file);
      expect([name, m.shape]).toEqual([name, input.shape]);
      expect([name, m.affine]).toEqual([name, input.affine]);
      const canon = toCanonical(m).volume;
      expect([name, canon.shape]).toEqual([name, refCanon.shape]);
      if (onCpu) {
        expect([name, Buffer.from(canon.data).equals(Buffer.from(refCanon.data))]).toEqual([name, true]);
      } else {
        // cuDNN autotuning may choose other algorithms from run to run: rounding can flip a few voxels
        expect([name, agreement(canon.data, refCanon.data) > 0.999]).toEqual([name, true]);
      }
    }
  });

  it('returns an empty mask with liverFound = false when the coarse stage finds no liver', async () => {
    // A copy of the pipeline whose coarse head outputs -100 everywhere: it finds no liver in anything.
    const p = await readPipeline(tp.pipeline);
    const coarse = await readModelBundle(p.coarsePath);
    const weights = await readBundleWeights(p.coarsePath, coarse);
    for (const t of weights) {
      if (t.name === 'head.weight') t.data.fill(0);
      if (t.name === 'head.bias') t.data.fill(-100);
    }
    const blind = path.join(tmp, 'blind');
    const { validation, training, createdAt, liversegVersion, format, formatVersion, architecture, config, weights: w, weightsSha256, ...meta } = coarse;
    await saveModelBundle(path.join(blind, 'coarse.json'), config, weights, { ...meta, validation, training });
    await writePipeline(path.join(blind, 'pipeline.json'), path.join(blind, 'coarse.json'), p.finePath, p.margin);
    const m = await segment(CT, { model: path.join(blind, 'pipeline.json'), device: testDevice });
    expect(m.liverFound).toBe(false);
    expect(m.roi).toBeNull();
    expect(m.data.every((v) => v === 0)).toBe(true);
  });

  it('runs a one-stage model (sliding windows over the whole volume), padding volumes smaller than a window', async () => {
    const fine = (await readPipeline(tp.pipeline)).finePath;
    const small: Volume<Int16Array> = {
      data: new Int16Array(20 * 24 * 12).fill(40),
      shape: [20, 24, 12],
      spacing: [1, 1, 1],
      affine: [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ],
    };
    const m = await segment(small, { model: fine, device: testDevice });
    expect(m.shape).toEqual([20, 24, 12]);
    expect(m.data.length).toBe(20 * 24 * 12);
  });

  it('rejects bad input with codes: a 2D image, non-volumes, a mismatched pipeline, a corrupt bundle', async () => {
    const flat: Volume<Int16Array> = {
      data: new Int16Array(64 * 64),
      shape: [64, 64, 1],
      spacing: [1, 1, 1],
      affine: [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ],
    };
    await expect(segment(flat, { model: tp.pipeline })).rejects.toMatchObject({ code: 'ERR_SHAPE_MISMATCH' });
    await expect(segment({ data: new Int16Array(5), shape: [2, 2, 2] } as never, { model: tp.pipeline })).rejects.toBeInstanceOf(LiversegError);
    await expect(segment(CT, { model: tp.pipeline, overlap: 1.5 })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG',
      message: expect.stringContaining('overlap'),
    });

    const p = await readPipeline(tp.pipeline);
    // a pipeline whose "coarse" model is the fine one
    const swapped = path.join(tmp, 'swapped.json');
    await fsp.writeFile(swapped, JSON.stringify({ format: 'liverseg-pipeline', formatVersion: 1, coarse: p.finePath, fine: p.finePath, margin: 8 }));
    await expect(segment(CT, { model: swapped })).rejects.toMatchObject({ code: 'ERR_MODEL_MISMATCH' });
    // a bundle whose config does not match its weights
    const fineBundle = await readModelBundle(p.finePath);
    const wrongDir = path.join(tmp, 'wrong');
    await fsp.mkdir(wrongDir);
    await fsp.copyFile(path.join(path.dirname(p.finePath), fineBundle.weights), path.join(wrongDir, fineBundle.weights));
    await fsp.writeFile(path.join(wrongDir, 'best.json'), JSON.stringify({ ...fineBundle, config: { ...fineBundle.config, channels: [8, 16, 32] } }));
    await expect(segment(CT, { model: path.join(wrongDir, 'best.json') })).rejects.toMatchObject({ code: 'ERR_BUNDLE' });
    // a corrupt weights file
    const corruptDir = path.join(tmp, 'corrupt');
    await fsp.mkdir(corruptDir);
    const bytes = await fsp.readFile(path.join(path.dirname(p.finePath), fineBundle.weights));
    await fsp.writeFile(path.join(corruptDir, fineBundle.weights), bytes.subarray(0, bytes.length - 100));
    await fsp.writeFile(path.join(corruptDir, 'best.json'), JSON.stringify(fineBundle));
    await expect(segment(CT, { model: path.join(corruptDir, 'best.json') })).rejects.toMatchObject({ code: 'ERR_BUNDLE' });
    await fsp.writeFile(path.join(corruptDir, 'not-json.json'), '{"format": "liverseg-model", ');
    await expect(segment(CT, { model: path.join(corruptDir, 'not-json.json') })).rejects.toMatchObject({ code: 'ERR_BUNDLE' });
  });

  describe('as a service', () => {
    it('handles concurrent calls on one loaded pipeline with the same results as sequential calls', async () => {
      const pipeline = await loadPipeline(tp.pipeline, { device: testDevice });
      const inputs = (await cases(tp.unseen)).map((c) => c.image);
      const sequential: Awaited<ReturnType<typeof segment>>[] = [];
      for (const f of inputs) sequential.push(await segment(f, { model: pipeline }));
      const concurrent = await Promise.all([...inputs, ...inputs].map((f) => segment(f, { model: pipeline })));
      concurrent.forEach((m, i) => {
        const ref = sequential[i % inputs.length].data;
        if (onCpu) expect(Buffer.from(m.data).equals(Buffer.from(ref))).toBe(true);
        else expect(agreement(m.data, ref)).toBeGreaterThan(0.999); // see the orientation test
      });
      // loading the same path again reuses the loaded models
      expect(await loadPipeline(tp.pipeline, { device: testDevice })).toBe(pipeline);
    });

    it('keeps the event loop ticking during a call', async () => {
      const ticks: number[] = [];
      const timer = setInterval(() => ticks.push(Date.now()), 5);
      const t0 = Date.now();
      await segment((await cases(tp.unseen))[0].image, { model: tp.pipeline, device: testDevice, overlap: 0.5 });
      const elapsed = Date.now() - t0;
      clearInterval(timer);
      let maxGap = 0;
      for (let i = 1; i < ticks.length; i++) maxGap = Math.max(maxGap, ticks[i] - ticks[i - 1]);
      expect(ticks.length).toBeGreaterThan(3);
      expect(maxGap).toBeLessThan(Math.max(100, elapsed / 2));
    });

    it('cancels with an AbortSignal between windows', async () => {
      const controller = new AbortController();
      const p = segment((await cases(tp.unseen))[0].image, { model: tp.pipeline, device: testDevice, overlap: 0.9, signal: controller.signal });
      setTimeout(() => controller.abort(), 30);
      await expect(p).rejects.toMatchObject({ code: 'ERR_ABORTED' });
      // the pipeline still works afterwards
      const m = await segment((await cases(tp.unseen))[0].image, { model: tp.pipeline, device: testDevice });
      expect(m.liverFound).toBe(true);
    });

    it('returns memory to its baseline over many calls (soak)', async () => {
      const pipeline = await loadPipeline(tp.pipeline, { device: testDevice });
      const ct = await loadVolume((await cases(tp.unseen))[1].image);
      const rss = () => process.memoryUsage().rss / 2 ** 20;
      for (let i = 0; i < 3; i++) await segment(ct, { model: pipeline }); // warm-up: allocator pools settle
      const before = rss();
      for (let i = 0; i < 25; i++) await segment(ct, { model: pipeline });
      (globalThis as { gc?: () => void }).gc?.();
      const growth = rss() - before;
      // one call allocates ~4 MiB of masks and windows; 25 calls leaking them would exceed 100 MiB
      expect(growth).toBeLessThan(60);
    });
  });
});
