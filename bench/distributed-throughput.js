#!/usr/bin/env node
/**
 * Training throughput on this CPU: 1 rank x T threads against N ranks x (T / N) threads, the same
 * global batch (N samples per step), synthetic 32^3 patches, ResUNet [8, 16, 32]. Needs lib/ (npm run build:ts).
 *   node bench/distributed-throughput.js [--steps 12] [--size 32] [--ranks 2] [--threads 2]
 * Prints samples per second for each layout.
 */
const { spawn } = require('child_process');
const net = require('net');
const path = require('path');
const { parseArgs } = require('util');

const { values } = parseArgs({
  options: { steps: { type: 'string' }, size: { type: 'string' }, ranks: { type: 'string' }, threads: { type: 'string' }, child: { type: 'string' } },
});
const lib = path.join(__dirname, '..', 'lib');
const steps = Number(values.steps ?? 12);
const size = Number(values.size ?? 32);
const ranks = Number(values.ranks ?? 2);
const threads = Number(values.threads ?? 2);
const MODEL = { channels: [8, 16, 32], seed: 1, device: 'cpu', optimizer: { name: 'novograd', lr: 0.01 } };

async function child(rank, world, master, batch) {
  const { ResUNet } = require(path.join(lib, 'nets', 'resunet.js'));
  const { DistributedContext } = require(path.join(lib, 'native', 'distributed.js'));
  const dist = world > 1 ? await DistributedContext.create({ rank, worldSize: world, master, timeoutSeconds: 120 }) : undefined;
  const m = await ResUNet.create(MODEL);
  if (dist) await m.attachDistributed(dist);
  const v = size ** 3;
  const image = new Float32Array(batch * v).map((_, i) => Math.sin(i * 0.01 + rank));
  const label = new Uint8Array(batch * v).map((_, i) => (i % v) % 7 < 3);
  const shape = [batch, 1, size, size, size];
  await m.trainStep({ data: image, shape }, { data: label, shape }); // warm-up
  if (dist) await dist.barrier();
  const t0 = process.hrtime.bigint();
  for (let s = 0; s < steps; s++) await m.trainStep({ data: image, shape }, { data: label, shape });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (rank === 0) process.stdout.write(JSON.stringify({ seconds }) + '\n');
  await m.dispose();
  dist?.close();
}

function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function runLayout(world, threadsEach, batchEach, master) {
  return Promise.all(
    Array.from(
      { length: world },
      (_, rank) =>
        new Promise((resolve, reject) => {
          const p = spawn(
            process.execPath,
            [__filename, '--child', JSON.stringify({ rank, world, master, batch: batchEach }), '--steps', String(steps), '--size', String(size)],
            {
              stdio: ['ignore', 'pipe', 'inherit'],
              env: { ...process.env, LIVERSEG_NUM_THREADS: String(threadsEach) },
            },
          );
          let out = '';
          p.stdout.on('data', (d) => (out += d));
          p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`rank ${rank} exited ${code}`))));
        }),
    ),
  ).then((outs) => JSON.parse(outs[0]).seconds);
}

async function main() {
  if (values.child) {
    const { rank, world, master, batch } = JSON.parse(values.child);
    return child(rank, world, master, batch);
  }
  const samples = steps * ranks;
  const one = await runLayout(1, threads, ranks, '');
  const many = await runLayout(ranks, Math.max(1, Math.floor(threads / ranks)), 1, `127.0.0.1:${await freePort()}`);
  const rows = [
    { layout: `1 rank x ${threads} threads, batch ${ranks}`, seconds: one },
    { layout: `${ranks} ranks x ${Math.max(1, Math.floor(threads / ranks))} thread(s), batch 1 each`, seconds: many },
  ];
  for (const r of rows)
    process.stdout.write(
      `${r.layout.padEnd(40)} ${(samples / r.seconds).toFixed(2)} samples/s (${steps} steps of ${ranks} x ${size}^3, ${r.seconds.toFixed(1)} s)\n`,
    );
}

main().catch((e) => {
  process.stderr.write(`${e.code ?? ''} ${e.message}\n`);
  process.exit(1);
});
