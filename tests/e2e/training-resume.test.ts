import { spawn } from 'child_process';
import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writePhantomDataset } from '../../src/ts/data/phantom-dataset';
import { readTrainConfigFile, resolveTrainConfig } from '../../src/ts/engines/config';
import { loadCheckpoint } from '../../src/ts/bundle';
import { train } from '../../src/ts/engines/trainer';
import { readModelBundle } from '../../src/ts/bundle';
import { createProgress } from '../../src/ts/engines/progress';
import { onCpu, testDevice } from '../helpers/device';

const quiet = createProgress(process.stderr, true);

describe('training: resume, interruption and configuration checks', () => {
  let dir: string;
  let data: string;
  const base = {
    stage: 'coarse' as const,
    channels: [4, 8],
    coarseSize: [24, 24, 16] as [number, number, number],
    valRatio: 0.25,
    valInterval: 1,
    lr: 0.01,
    seed: 5,
    device: testDevice,
    dropout: 0.1,
    augment: true,
  };

  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'liverseg-resume-'));
    data = path.join(dir, 'data');
    await writePhantomDataset(data, { count: 4, shape: [48, 48, 24], seed: 11 });
  });
  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('resuming from last after N epochs gives the same weights as N+M epochs uninterrupted', async () => {
    const straight = await train({ ...base, data, output: path.join(dir, 'straight'), epochs: 4 }, { progress: quiet });
    expect(straight.stages[0].epochsRun).toBe(4);

    // Interrupt after 2 epochs by aborting from the epoch callback, then resume to 4.
    const controller = new AbortController();
    const first = await train(
      { ...base, data, output: path.join(dir, 'resumed'), epochs: 4 },
      { progress: quiet, signal: controller.signal, onEpoch: (r) => r.epoch === 2 && controller.abort() },
    );
    expect(first.interrupted).toBe(true);
    expect((await loadCheckpoint(first.stages[0].last)).state.epoch).toBe(2);
    const second = await train({ ...base, data, output: path.join(dir, 'resumed'), epochs: 4, resume: true }, { progress: quiet });
    expect(second.stages[0].epochsRun).toBe(2);

    const a = await loadCheckpoint(straight.stages[0].last);
    const b = await loadCheckpoint(second.stages[0].last);
    expect(b.state.epoch).toBe(4);
    expect(b.weights.map((t) => t.name)).toEqual(a.weights.map((t) => t.name));
    const same = (x: typeof a.weights, y: typeof a.weights) =>
      x.every((t, i) =>
        Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(y[i].data.buffer, y[i].data.byteOffset, y[i].data.byteLength)),
      );
    if (onCpu) {
      // bit-identical on the CPU (CUDA kernels may reorder sums)
      expect(same(a.weights, b.weights)).toBe(true);
      expect(same(a.optimizer, b.optimizer)).toBe(true);
    }
    // the metrics log has one line per epoch, without duplicates from the interrupted run
    const lines = (await fsp.readFile(path.join(dir, 'resumed', 'coarse', 'metrics.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).epoch)).toEqual([1, 2, 3, 4]);
    await expect(fsp.readFile(path.join(dir, 'resumed', 'coarse', 'metrics.svg'), 'utf8')).resolves.toContain('<svg');
  });

  it('refuses to resume with different settings', async () => {
    await expect(train({ ...base, data, output: path.join(dir, 'resumed'), epochs: 4, lr: 0.02, resume: true }, { progress: quiet })).rejects.toMatchObject({
      code: 'ERR_INVALID_CONFIG',
    });
  });

  it('SIGINT to liverseg-train leaves a loadable last checkpoint and a loadable best bundle', async () => {
    const out = path.join(dir, 'sigint');
    const cli = path.join(__dirname, '..', '..', 'lib', 'cli', 'train.js');
    const args = [
      cli,
      '--stage',
      'coarse',
      '--data',
      data,
      '--output',
      out,
      '--epochs',
      '50',
      '--channels',
      '4,8',
      '--coarse-size',
      '24,24,16',
      '--val-interval',
      '1',
      '--device',
      testDevice,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no epoch line; stderr: ${stderr}`)), 120000);
      let sent = false;
      child.stderr.on('data', (d) => {
        stderr += d;
        // one SIGINT only: a second one means "quit at once" and skips the summary
        if (!sent && /epoch 2\/50/.test(stderr)) {
          sent = true;
          clearTimeout(timer);
          child.kill('SIGINT');
          resolve();
        }
      });
    });
    expect(await exit).toBe(130);
    expect(stdout).toMatch(/interrupted/);
    const ck = await loadCheckpoint(path.join(out, 'coarse', 'last.json'));
    expect(ck.state.epoch).toBeGreaterThanOrEqual(2);
    expect(ck.state.epoch).toBeLessThan(50);
    const best = await readModelBundle(path.join(out, 'coarse', 'best.json'));
    expect(best.stage).toBe('coarse');
    // no temporary files left behind
    expect((await fsp.readdir(path.join(out, 'coarse'))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('rejects bad configuration before training, naming the field', async () => {
    const run = (c: Record<string, unknown>) => train({ ...base, data, output: path.join(dir, 'bad'), epochs: 1, ...c } as never, { progress: quiet });
    await expect(run({ learningRate: 0.1 })).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG', message: expect.stringContaining("'learningRate'") });
    await expect(run({ epochs: 'ten' })).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG', message: expect.stringContaining("'epochs'") });
    await expect(run({ data: path.join(dir, 'nope') })).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG', message: expect.stringContaining("'data'") });
    await expect(run({ patchSize: [0, 4, 4] })).rejects.toMatchObject({ message: expect.stringContaining("'patchSize'") });
    await expect(run({ coarseSize: [20, 20, 16], stage: 'coarse', data: path.join(dir, 'straight', 'prepared', 'resized') })).rejects.toMatchObject({
      code: 'ERR_INVALID_CONFIG',
      message: expect.stringContaining('coarseSize'),
    });
    // nothing was trained into the output folder
    await expect(fsp.stat(path.join(dir, 'bad', 'coarse', 'last.json'))).rejects.toThrow();
    expect(() => resolveTrainConfig({})).toThrow(/'data'/);
  });

  it('reads a JSON config file and reports its parse errors with the file name', async () => {
    const f = path.join(dir, 'bad.json');
    await fsp.writeFile(f, '{ "epochs": 3, ');
    await expect(readTrainConfigFile(f)).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG', message: expect.stringContaining(f) });
  });
});
