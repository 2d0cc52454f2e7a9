/**
 * Data-parallel training over c10d (Gloo, loopback), on the CPU: ranks are child processes
 * running the compiled library (lib/), as liverseg-train --nproc starts them.
 */
import { ChildProcess, spawn } from 'child_process';
import { promises as fsp } from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { DataLoader } from '../../src/ts/data/loader';
import { writePhantomDataset } from '../../src/ts/data/phantom-dataset';
import { DistributedContext } from '../../src/ts/native/distributed';
import { ResUNet } from '../../src/ts/nets/resunet';
import type { Dataset } from '../../src/ts/data/dataset';

const root = path.join(__dirname, '..', '..');
const lib = path.join(root, 'lib');
const cli = path.join(lib, 'cli', 'train.js');
const SIZE = 16;
// Plain blocks: a residual block's 1x1 shortcut from one input channel feeds an InstanceNorm that
// makes it scale-invariant, so its gradient is rounding noise too (see the comparison below).
const MODEL = { channels: [4, 8], block: 'plain' as const, seed: 3, device: 'cpu', optimizer: { name: 'novograd' as const, lr: 0.01 } };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Sample `n` of step `step`: a smooth image and a blob label, the same in every process. */
function sample(step: number, n: number): { image: Float32Array; label: Uint8Array } {
  const v = SIZE ** 3;
  const image = new Float32Array(v);
  const label = new Uint8Array(v);
  const c = [5 + ((step * 3 + n * 5) % 6), 6 + ((step + n * 2) % 5), 7 + ((step * 2 + n) % 4)];
  for (let k = 0, i = 0; k < SIZE; k++)
    for (let j = 0; j < SIZE; j++)
      for (let x = 0; x < SIZE; x++, i++) {
        const d2 = (x - c[0]) ** 2 + (j - c[1]) ** 2 + (k - c[2]) ** 2;
        label[i] = d2 < 16 ? 1 : 0;
        image[i] = (label[i] ? 0.7 : 0.2) + 0.1 * Math.sin(0.7 * x + 1.3 * j + 0.4 * k + step + 2 * n);
      }
  return { image, label };
}

/** What one rank runs: 3 steps on its own sample of each step, then its weights as one float32 file. */
const RANK_SCRIPT = `
const [lib, rank, world, master, out, steps, size] = process.argv.slice(2);
const { ResUNet } = require(lib + '/nets/resunet.js');
const { DistributedContext } = require(lib + '/native/distributed.js');
const { sample } = require(process.env.SAMPLE_MODULE);
(async () => {
  const dist = await DistributedContext.create({ rank: +rank, worldSize: +world, master, timeoutSeconds: 30, bucketBytes: 4096 });
  const net = await ResUNet.create(${JSON.stringify(MODEL)});
  await net.attachDistributed(dist);
  const s = +size;
  for (let step = 0; step < +steps; step++) {
    const { image, label } = sample(step, +rank);
    await net.trainStep({ data: image, shape: [1, 1, s, s, s] }, { data: label, shape: [1, 1, s, s, s] });
  }
  const w = await net.getWeights();
  require('fs').writeFileSync(out, Buffer.concat(w.map((t) => Buffer.from(new Float32Array(t.data).buffer))));
  await net.dispose();
  dist.close();
})().catch((e) => { console.error(e.code, e.message); process.exit(3); });
`;

interface Run {
  child: ChildProcess;
  exit: Promise<number | null>;
  stderr: () => string;
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true', LIVERSEG_NUM_THREADS: '1', ...env } });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  child.stdout!.on('data', (d) => (err += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exit, stderr: () => err };
}

describe('data-parallel training (c10d, Gloo, loopback)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'liverseg-dist-'));
  });
  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('shards each epoch so the ranks together serve exactly the global batches of one process', () => {
    const ds = { length: 7, getSamples: async () => [], transform: {}, tail: {} } as unknown as Dataset;
    const one = new DataLoader(ds, { batchSize: 4, shuffle: true, seed: 9 });
    const ranks = [0, 1].map((rank) => new DataLoader(ds, { batchSize: 2, shuffle: true, seed: 9, shard: { rank, worldSize: 2 } }));
    expect(ranks[0].length).toBe(2);
    expect(ranks[1].length).toBe(2);
    const order = one.order(3);
    const [a, b] = ranks.map((r) => r.batches(3));
    // 7 items padded to 8 by wrapping around; the last global batch [4..8) split 2 + 2.
    expect([...a[0], ...b[0], ...a[1], ...b[1]]).toEqual([...order, order[0]]);
    expect(one.batches(3)[0]).toEqual([...a[0], ...b[0]]);
  });

  it('2 ranks x 3 steps: bit-identical weights on both ranks, equal within 1e-5 to one process on the concatenated batch', async () => {
    const script = path.join(dir, 'rank.js');
    const sampleModule = path.join(dir, 'sample.js');
    await fsp.writeFile(script, RANK_SCRIPT);
    await fsp.writeFile(sampleModule, `const SIZE = ${SIZE};\n${sample.toString()}\nmodule.exports = { sample };\n`);
    const master = `127.0.0.1:${await freePort()}`;
    const outs = [0, 1].map((r) => path.join(dir, `w${r}.bin`));
    const t0 = Date.now();
    const runs = [0, 1].map((r) => run([script, lib, String(r), '2', master, outs[r], '3', String(SIZE)], { SAMPLE_MODULE: sampleModule }));
    const codes = await Promise.all(runs.map((r) => r.exit));
    expect({ codes, log: runs.map((r) => r.stderr()) }).toEqual({ codes: [0, 0], log: ['', ''] });
    const [w0, w1] = await Promise.all(outs.map((o) => fsp.readFile(o)));
    expect(w0.length).toBeGreaterThan(1000);
    expect(Buffer.compare(w0, w1)).toBe(0);

    const single = await ResUNet.create(MODEL);
    try {
      const v = SIZE ** 3;
      for (let step = 0; step < 3; step++) {
        const [s0, s1] = [sample(step, 0), sample(step, 1)];
        const image = new Float32Array(2 * v);
        image.set(s0.image, 0);
        image.set(s1.image, v);
        const label = new Uint8Array(2 * v);
        label.set(s0.label, 0);
        label.set(s1.label, v);
        await single.trainStep({ data: image, shape: [2, 1, SIZE, SIZE, SIZE] }, { data: label, shape: [2, 1, SIZE, SIZE, SIZE] });
      }
      const weights = await single.getWeights();
      const ws = Buffer.concat(weights.map((t) => Buffer.from(new Float32Array(t.data).buffer)));
      const a = new Float32Array(ws.buffer, ws.byteOffset, ws.length / 4);
      const b = new Float32Array(w0.buffer, w0.byteOffset, w0.length / 4);
      expect(b.length).toBe(a.length);
      // A convolution's bias right before an InstanceNorm has an exactly zero gradient (the norm
      // subtracts the mean): its computed gradient is rounding noise, which Novograd's per-layer
      // normalisation turns into lr-sized steps that differ between any two ways of summing. Those
      // biases do not change the network's output; every other weight must agree within 1e-5.
      let maxDiff = 0,
        noiseDiff = 0,
        off = 0,
        compared = 0;
      for (const t of weights) {
        const noise = /\.conv\.bias$/.test(t.name);
        for (let i = off; i < off + t.data.length; i++) {
          const d = Math.abs(a[i] - b[i]);
          if (noise) noiseDiff = Math.max(noiseDiff, d);
          else maxDiff = Math.max(maxDiff, d);
        }
        if (!noise) compared += t.data.length;
        off += t.data.length;
      }
      process.stderr.write(
        `[distributed] 2 ranks vs 1 process after 3 steps: max |dw| = ${maxDiff.toExponential(2)} over ${compared} of ${a.length} weights ` +
          `(pre-norm conv biases, zero-gradient noise: ${noiseDiff.toExponential(2)}) (${Date.now() - t0} ms)\n`,
      );
      expect(maxDiff).toBeLessThanOrEqual(1e-5);
      // The steps moved the weights: the comparison is not between two untouched initialisations.
      const init = await ResUNet.create(MODEL);
      const wi = Buffer.concat((await init.getWeights()).map((t) => Buffer.from(new Float32Array(t.data).buffer)));
      await init.dispose();
      expect(Buffer.compare(wi, ws)).not.toBe(0);
    } finally {
      await single.dispose();
    }
  });

  it('a wrong master address fails fast with ERR_DISTRIBUTED and says why', async () => {
    let t = Date.now();
    await expect(DistributedContext.create({ rank: 1, worldSize: 2, master: 'no-such-host.invalid:29500', timeoutSeconds: 30 })).rejects.toMatchObject({
      code: 'ERR_DISTRIBUTED',
      message: expect.stringContaining("the master host 'no-such-host.invalid'"),
    });
    const unresolved = Date.now() - t;
    expect(unresolved).toBeLessThan(5000);
    // A reachable host where no master listens: refused until the timeout, then a clear error.
    const port = await freePort();
    t = Date.now();
    await expect(DistributedContext.create({ rank: 1, worldSize: 2, master: `127.0.0.1:${port}`, timeoutSeconds: 2 })).rejects.toMatchObject({
      code: 'ERR_DISTRIBUTED',
      message: expect.stringContaining(`could not reach the master at 127.0.0.1:${port}`),
    });
    const refused = Date.now() - t;
    process.stderr.write(`[distributed] unresolvable master failed in ${unresolved} ms, unreachable master (2 s timeout) in ${refused} ms\n`);
    expect(refused).toBeLessThan(8000);
  });

  describe('liverseg-train', () => {
    let data: string;
    const common = [
      '--stage',
      'single',
      '--channels',
      '4,8',
      '--patch-size',
      '16',
      '--crops-per-volume',
      '1',
      '--val-ratio',
      '0.25',
      '--device',
      'cpu',
      '--seed',
      '2',
    ];
    beforeAll(async () => {
      data = path.join(dir, 'data');
      await writePhantomDataset(data, { count: 8, shape: [32, 32, 16], seed: 4 });
    });

    it('--nproc 2 trains, validates on both ranks and only rank 0 writes the stage files', async () => {
      const out = path.join(dir, 'nproc');
      const r = run([cli, ...common, '--data', data, '--output', out, '--epochs', '2', '--val-interval', '1', '--nproc', '2']);
      const code = await r.exit;
      expect({ code, log: r.stderr() }).toMatchObject({ code: 0 });
      expect(r.stderr()).toContain('starting 2 ranks');
      const rows = (await fsp.readFile(path.join(out, 'single', 'metrics.jsonl'), 'utf8')).trim().split('\n');
      expect(rows.map((l) => JSON.parse(l).epoch)).toEqual([1, 2]);
      expect(JSON.parse(rows[1]).dice).toEqual(expect.any(Number));
      await expect(fsp.stat(path.join(out, 'single', 'best.json'))).resolves.toBeTruthy();
      // Rank 1 printed no epoch lines of its own: exactly one per epoch.
      expect(r.stderr().match(/\[single\] epoch 2\/2/g)).toHaveLength(1);
    });

    it('a rank killed mid-epoch makes the other fail with ERR_DISTRIBUTED within the timeout', async () => {
      const out = path.join(dir, 'killed');
      const master = `127.0.0.1:${await freePort()}`;
      const args = [
        cli,
        ...common,
        '--data',
        data,
        '--output',
        out,
        '--epochs',
        '200',
        '--val-interval',
        '1000',
        '--world-size',
        '2',
        '--master',
        master,
        '--dist-timeout',
        '10',
      ];
      const r0 = run([...args, '--rank', '0']);
      const r1 = run([...args, '--rank', '1']);
      try {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no epoch line; rank 0: ${r0.stderr()} rank 1: ${r1.stderr()}`)), 60000);
          const poll = setInterval(() => {
            if (/epoch 1\/200/.test(r0.stderr())) {
              clearTimeout(timer);
              clearInterval(poll);
              resolve();
            }
          }, 50);
        });
        r1.child.kill('SIGKILL');
        const t = Date.now();
        const code = await r0.exit;
        const took = Date.now() - t;
        process.stderr.write(`[distributed] rank 0 failed ${took} ms after rank 1 was killed: ${r0.stderr().trim().split('\n').pop()}\n`);
        expect(code).toBe(1);
        expect(r0.stderr()).toContain('(ERR_DISTRIBUTED)');
        expect(took).toBeLessThan(15000);
      } finally {
        r0.child.kill('SIGKILL');
        r1.child.kill('SIGKILL');
      }
    });
  });
});
