/**
 * The trained two-stage pipeline on onnxruntime-node: masks against the LibTorch engine's, the
 * one-pass fine stage against sliding windows (Dice and time on unseen phantoms and the real CT,
 * which decides the default fineMode), liverseg-export, and the engine that runs when the addon is
 * switched off (LIVERSEG_NATIVE=off).
 */
import { spawnSync } from 'child_process';
import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readModelBundle, readPipeline } from '../../src/ts/bundle';
import { loadVolume } from '../../src/ts/io/nifti-read';
import { maskDice } from '../../src/ts/metrics/dice';
import { clearPipelineCache, loadPipeline, LoadedPipeline } from '../../src/ts/inferers/pipeline';
import { DEFAULT_FINE_MODE, segment } from '../../src/ts/inferers/segment';
import { engineOf, FineMode } from '../../src/ts/inferers/engine';
import { onnxruntimeAvailability } from '../../src/ts/nets/backends/onnxruntime';
import type { Volume } from '../../src/ts/volume';
import { TrainedPipeline, trainedPipeline } from '../helpers/trained-pipeline';

const ROOT = path.join(__dirname, '..', '..');
const CT = path.join(ROOT, 'tests', 'fixtures', 'ct-sample', 'imagesTr', 'ct_sample.nii.gz');
const CT_LABEL = path.join(ROOT, 'tests', 'fixtures', 'ct-sample', 'labelsTr', 'ct_sample.nii.gz');
const ort = onnxruntimeAvailability();

function agreement(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) same += a[i] === b[i] ? 1 : 0;
  return same / a.length;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

interface Case {
  name: string;
  ct: Volume;
  label: Volume;
}

(ort.available ? describe : describe.skip)('segment() on onnxruntime-node', () => {
  let tp: TrainedPipeline;
  let tmp: string;
  let torch: LoadedPipeline;
  let onnx: LoadedPipeline;
  const cases: Case[] = [];

  beforeAll(async () => {
    tp = await trainedPipeline();
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'liverseg-onnx-e2e-'));
    torch = await loadPipeline(tp.pipeline, { engine: 'libtorch', device: 'cpu' });
    onnx = await loadPipeline(tp.pipeline, { engine: 'onnxruntime' });
    const ds = JSON.parse(await fsp.readFile(path.join(tp.unseen, 'dataset.json'), 'utf8')) as { training: { image: string; label: string }[] };
    for (const c of ds.training) {
      cases.push({
        name: path.basename(c.image),
        ct: await loadVolume(path.resolve(tp.unseen, c.image)),
        label: await loadVolume(path.resolve(tp.unseen, c.label)),
      });
    }
    cases.push({ name: 'real CT', ct: await loadVolume(CT), label: await loadVolume(CT_LABEL) });
  }, 1_800_000);
  afterAll(async () => {
    await clearPipelineCache();
    if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
  });

  it("loads the pipeline on each engine; 'auto' on the CPU is onnxruntime", async () => {
    expect(engineOf(torch.fine.net)).toBe('libtorch');
    expect(engineOf(onnx.fine.net)).toBe('onnxruntime');
    expect(onnx.engine).toBe('onnxruntime');
    expect((await loadPipeline(tp.pipeline, { device: 'cpu' })).engine).toBe('onnxruntime');
    expect(await loadPipeline(tp.pipeline, { engine: 'onnxruntime' })).toBe(onnx);
  });

  it("gives LibTorch's masks on at least 99.9 % of voxels, windows and whole", async () => {
    for (const fineMode of ['windows', 'whole'] as const) {
      for (const c of cases) {
        const a = await segment(c.ct, { model: torch, fineMode });
        const b = await segment(c.ct, { model: onnx, fineMode });
        expect(b.roi).toEqual(a.roi);
        expect({ fineMode, case: c.name, agree: agreement(a.data, b.data) >= 0.999 }).toEqual({ fineMode, case: c.name, agree: true });
      }
    }
  }, 600_000);

  it('whole vs windows: Dice on unseen phantoms and the real CT, and the time; auto is the default only within 0.002 of windows', async () => {
    const modes: FineMode[] = ['windows', 'whole', 'auto'];
    const rows: Record<FineMode, { dice: number[]; fine: number[] }> = {
      windows: { dice: [], fine: [] },
      whole: { dice: [], fine: [] },
      auto: { dice: [], fine: [] },
    };
    const lines: string[] = [];
    for (const c of cases) {
      const cells: string[] = [];
      for (const mode of modes) {
        const m = await segment(c.ct, { model: onnx, fineMode: mode });
        const d = maskDice(m.data, c.label.data);
        rows[mode].dice.push(d);
        rows[mode].fine.push(m.timings.fine);
        cells.push(`${mode} ${d.toFixed(4)} (${m.timings.fine.toFixed(0)} ms)`);
      }
      lines.push(`${c.name}: ${cells.join(', ')}`);
    }
    const phantoms = (mode: FineMode) => mean(rows[mode].dice.slice(0, -1));
    lines.push(
      ...modes.map(
        (m) => `mean ${m}: phantoms ${phantoms(m).toFixed(4)}, real CT ${rows[m].dice.at(-1)!.toFixed(4)}, fine stage ${mean(rows[m].fine).toFixed(0)} ms`,
      ),
    );
    process.stderr.write(`[fine mode, onnxruntime]\n  ${lines.join('\n  ')}\n`);
    expect(phantoms('windows')).toBeGreaterThan(0.85);
    // One pass normalises (InstanceNorm) over the whole region instead of window-sized crops like the
    // fine model's training patches; here that cost 0.16 Dice on phantoms (0.93 -> 0.77) and gained 0.01
    // on the real CT, so the default stays 'windows'. 'auto' may become the default only within 0.002.
    if (DEFAULT_FINE_MODE === 'auto') {
      expect(phantoms('auto')).toBeGreaterThanOrEqual(phantoms('windows') - 0.002);
      expect(rows.auto.dice.at(-1)!).toBeGreaterThanOrEqual(rows.windows.dice.at(-1)! - 0.002);
    }
  }, 600_000);

  it('liverseg-export writes the ONNX file; --attach records it in the bundle and the engine loads it', async () => {
    const cli = path.join(ROOT, 'lib', 'cli', 'export.js');
    const p = await readPipeline(tp.pipeline);
    const out = path.join(tmp, 'fine.onnx');
    const r = spawnSync(process.execPath, [cli, '--onnx', p.finePath, '-o', out], { encoding: 'utf8' });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(r.stdout).toMatch(/^wrote: .*fine\.onnx \(\d+\.\d MiB, IR 8, opset 17, sha256 [0-9a-f]{12}\)$/m);
    // attach to a copy: the shared pipeline's files stay as they are
    const copy = path.join(tmp, 'bundle');
    await fsp.cp(path.dirname(p.finePath), copy, { recursive: true });
    const bundlePath = path.join(copy, path.basename(p.finePath));
    const a = spawnSync(process.execPath, [cli, '--onnx', bundlePath, '--attach'], { encoding: 'utf8' });
    expect({ status: a.status, stderr: a.stderr }).toEqual({ status: 0, stderr: '' });
    const bundle = await readModelBundle(bundlePath);
    expect(bundle.onnx).toMatch(/\.[0-9a-f]{12}\.onnx$/);
    expect(bundle.onnxWeightsSha256).toBe(bundle.weightsSha256);
    expect((await fsp.readFile(path.join(copy, bundle.onnx!))).equals(await fsp.readFile(out))).toBe(true);
    const single = await loadPipeline(bundlePath, { engine: 'onnxruntime' });
    const viaFile = await segment(cases[0].ct, { model: single });
    const viaWeights = await segment(cases[0].ct, { model: await loadPipeline(p.finePath, { engine: 'onnxruntime' }) });
    expect(Buffer.from(viaFile.data).equals(Buffer.from(viaWeights.data))).toBe(true);
    const usage = spawnSync(process.execPath, [cli, '--onnx', bundlePath], { encoding: 'utf8' });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/give either -o\/--output or --attach/);
  }, 300_000);

  it("with LIVERSEG_NATIVE=off, 'auto' runs onnxruntime-node saying so in one line, with LibTorch's mask; training says it needs the addon", async () => {
    const { LIVERSEG_ENGINE: _engine, ...inherited } = process.env;
    const env = { ...inherited, LIVERSEG_NATIVE: 'off' };
    const out = path.join(tmp, 'off.nii.gz');
    const r = spawnSync(process.execPath, [path.join(ROOT, 'lib', 'cli', 'segment.js'), '-m', tp.pipeline, CT, '-o', out], { encoding: 'utf8', env });
    expect({ status: r.status, stderr: r.stderr }).toEqual({
      status: 0,
      stderr: expect.stringMatching(
        /^liverseg: the native addon is unavailable \(LIVERSEG_NATIVE=off\); running inference on onnxruntime-node [\d.]+ \(CPU\)\n$/,
      ),
    });
    const viaOff = await loadVolume(out);
    const reference = await segment(CT, { model: torch });
    expect(agreement(viaOff.data, reference.data)).toBeGreaterThanOrEqual(0.999);
    const forced = spawnSync(process.execPath, [path.join(ROOT, 'lib', 'cli', 'segment.js'), '-m', tp.pipeline, CT, '-o', out, '--engine', 'libtorch'], {
      encoding: 'utf8',
      env,
    });
    expect(forced.status).toBe(1);
    expect(forced.stderr).toMatch(/switched off \(LIVERSEG_NATIVE=off\).*\(ERR_NATIVE_LOAD\)\n$/);
    const t = spawnSync(
      process.execPath,
      [path.join(ROOT, 'lib', 'cli', 'train.js'), '--data', tp.unseen, '--output', path.join(tmp, 'run'), '--epochs', '1'],
      { encoding: 'utf8', env },
    );
    expect(t.status).toBe(1);
    expect(t.stderr).toMatch(/training needs the addon/);
  }, 300_000);
});
