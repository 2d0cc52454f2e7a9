#!/usr/bin/env node
/**
 * Load benchmark of liverseg-serve scaled out through BullMQ: one API, W `liverseg-worker`
 * processes (W = 1, then 2) on a Redis started here (Debian's redis-server on 127.0.0.1, free
 * port), and a closed-loop load generator of our own: a fixed number of jobs, at most
 * --clients in flight, each one upload -> poll -> mask download, all on loopback. Reports CTs per
 * minute, p50 / p95 job latency (upload to mask received), and each worker's peak resident memory
 * (VmHWM) and its last heartbeat's native memory. Never run by npm test.
 *
 *   node bench/serve-load.js --model demo-output/run/pipeline.json
 *   node bench/serve-load.js --model M --jobs 24 --clients 4 --workers 1,2 --input ct.nii.gz --write-docs
 *
 * Without --model it trains the test suite's small two-stage pipeline once (about 5 minutes on 2
 * cores) into $TMPDIR/liverseg-bench/serve-pipeline. The input defaults to the real CT sample in
 * tests/fixtures. Needs lib/ (node scripts/setup.js) and redis-server.
 */
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { parseArgs } = require('util');

const root = path.resolve(__dirname, '..');
const USAGE = `Usage: node bench/serve-load.js [--model M] [--input CT] [--jobs N] [--clients C] [--workers 1,2] [--warmup K] [--write-docs]`;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startRedis() {
  const bin = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
  if (!bin) throw new Error('redis-server not found (apt-get install redis-server)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'liverseg-bench-redis-'));
  const port = await freePort();
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'], {
    stdio: 'ignore',
  });
  const { Redis } = require('ioredis');
  const r = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  for (let i = 0; i < 100; i++) {
    try {
      await r.connect();
      await r.ping();
      break;
    } catch {
      await sleep(100);
    }
  }
  r.disconnect();
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((res) => child.once('exit', res));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function defaultModel() {
  const dir = path.join(os.tmpdir(), 'liverseg-bench', 'serve-pipeline');
  const pipeline = path.join(dir, 'run', 'pipeline.json');
  if (fs.existsSync(pipeline)) return pipeline;
  process.stderr.write(`serve-load: no --model: training the test suite's small pipeline into ${dir} (once)\n`);
  const liverseg = require(root);
  await liverseg.writePhantomDataset(path.join(dir, 'phantoms'), { count: 14, shape: [96, 96, 48], seed: 1 });
  await liverseg.train({
    stage: 'two-stage',
    epochs: 20,
    channels: [8, 16, 32, 64],
    coarseSize: [48, 48, 32],
    patchSize: [48, 48, 32],
    cropsPerVolume: 2,
    margin: 8,
    lr: 0.01,
    scheduler: 'warmup-cosine',
    warmupEpochs: 2,
    valRatio: 0.2,
    valInterval: 5,
    seed: 1,
    data: path.join(dir, 'phantoms'),
    output: path.join(dir, 'run'),
  });
  return pipeline;
}

/** Peak and current resident memory of a process (Linux /proc), MiB. */
function procMemory(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
    return { peakMiB: kb('VmHWM') / 1024, rssMiB: kb('VmRSS') / 1024 };
  } catch {
    return { peakMiB: NaN, rssMiB: NaN };
  }
}

function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

async function oneJob(base, body) {
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/jobs`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
  if (res.status !== 202) throw new Error(`POST answered ${res.status}: ${await res.text()}`);
  const { id } = await res.json();
  for (;;) {
    const j = await (await fetch(`${base}/v1/jobs/${id}`)).json();
    if (j.state === 'done') break;
    if (j.state === 'failed' || j.state === 'cancelled') throw new Error(`job ${id} ${j.state}: ${JSON.stringify(j.error)}`);
    await sleep(50);
  }
  const mask = await fetch(`${base}/v1/jobs/${id}/mask.nii.gz`);
  await mask.arrayBuffer();
  return performance.now() - t0;
}

async function load(base, body, jobs, clients) {
  const latencies = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(clients, jobs) }, async () => {
      while (next < jobs) {
        next++;
        latencies.push(await oneJob(base, body));
      }
    }),
  );
  return { wallMs: performance.now() - t0, latencies: latencies.sort((a, b) => a - b) };
}

async function run(opts) {
  const liverseg = require(root);
  const body = fs.readFileSync(opts.input);
  const redis = await startRedis();
  const results = [];
  try {
    for (const w of opts.workers) {
      const threads = Math.max(1, Math.floor(os.cpus().length / w));
      const server = await liverseg.createServer({ queue: redis.url, port: 0, maxQueued: opts.jobs + 8, queueName: `bench${w}` });
      const procs = [];
      for (let i = 0; i < w; i++) {
        const child = spawn(
          process.execPath,
          [path.join(root, 'lib', 'cli', 'worker.js'), '--model', opts.model, '--queue', redis.url, '--queue-name', `bench${w}`, '--name', `w${i + 1}`],
          {
            stdio: ['ignore', 'ignore', 'inherit'],
            env: { ...process.env, LIVERSEG_NUM_THREADS: String(threads) },
          },
        );
        procs.push(child);
      }
      for (let i = 0; i < 600; i++) {
        const r = await (await fetch(`${server.url}/readyz`)).json();
        if (r.workers === w) break;
        await sleep(100);
      }
      // Warm-up: first jobs pay for lazy native initialisation; not counted.
      await load(server.url, body, opts.warmup * w, w);
      const { wallMs, latencies } = await load(server.url, body, opts.jobs, opts.clients);
      const beats = await (await fetch(`${server.url}/metrics`)).text();
      const native = [...beats.matchAll(/^liverseg_worker_memory_bytes\{worker="(w\d+)",kind="native"\} (\d+)/gm)].map((m) => Number(m[2]) / 2 ** 20);
      const mem = procs.map((p) => procMemory(p.pid));
      for (const p of procs) p.kill('SIGTERM');
      await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode === null ? p.once('exit', r) : r()))));
      await server.close();
      const r = {
        workers: w,
        threadsPerWorker: threads,
        jobs: opts.jobs,
        clients: opts.clients,
        wallSeconds: wallMs / 1000,
        ctsPerMinute: (opts.jobs / wallMs) * 60_000,
        p50Seconds: quantile(latencies, 0.5) / 1000,
        p95Seconds: quantile(latencies, 0.95) / 1000,
        workerPeakRssMiB: mem.map((m) => m.peakMiB),
        workerNativeMiB: native,
      };
      results.push(r);
      process.stdout.write(JSON.stringify(r) + '\n');
    }
  } finally {
    await redis.stop();
  }
  return results;
}

function markdown(results, opts, seconds) {
  const cpu = os.cpus();
  const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  const head = `ct_sample.nii.gz`;
  const lines = [
    '## Service: liverseg-serve with BullMQ workers',
    '',
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${cpu.length} logical cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}; load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' / ')} at the end.`,
    '',
    `Command: \`node bench/serve-load.js --model ${path.relative(root, opts.model).startsWith('..') ? '<pipeline.json>' : path.relative(root, opts.model)} --jobs ${opts.jobs} --clients ${opts.clients} --workers ${opts.workers.join(',')}\` (${Math.round(seconds)} s). One API (in the benchmark's process) and W \`liverseg-worker\` processes on a local Redis 127.0.0.1; input ${path.basename(opts.input) || head} (${(fs.statSync(opts.input).size / 1024).toFixed(0)} KiB) sent ${opts.jobs} times, at most ${opts.clients} jobs in flight, after ${opts.warmup} warm-up job(s) per worker; latency is upload to mask downloaded (polling every 50 ms); LibTorch threads per worker = cores / W. Model: ${opts.modelNote}.`,
    '',
    '| Workers | Threads each | CTs / min | p50 latency s | p95 latency s | Wall s | Peak RSS per worker MiB | LibTorch allocator per worker MiB |',
    '|---|---|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${r.workers} | ${r.threadsPerWorker} | ${f(r.ctsPerMinute, 1)} | ${f(r.p50Seconds)} | ${f(r.p95Seconds)} | ${f(r.wallSeconds, 1)} | ${r.workerPeakRssMiB.map((x) => f(x, 0)).join(', ')} | ${r.workerNativeMiB.some((x) => x > 0) ? r.workerNativeMiB.map((x) => f(x, 0)).join(', ') : 'n/a (CPU)'} |`,
    ),
  ];
  return lines.join('\n');
}

async function main() {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      input: { type: 'string' },
      jobs: { type: 'string', default: '12' },
      clients: { type: 'string', default: '4' },
      workers: { type: 'string', default: '1,2' },
      warmup: { type: 'string', default: '1' },
      'write-docs': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(USAGE + '\n');
  const t0 = Date.now();
  const opts = {
    model: values.model ? path.resolve(values.model) : await defaultModel(),
    input: path.resolve(values.input ?? path.join(root, 'tests', 'fixtures', 'ct-sample', 'imagesTr', 'ct_sample.nii.gz')),
    jobs: Number(values.jobs),
    clients: Number(values.clients),
    workers: values.workers.split(',').map(Number),
    warmup: Number(values.warmup),
  };
  if (!(opts.jobs > 0 && opts.jobs <= 1000 && opts.clients > 0 && opts.clients <= 64)) throw new Error('--jobs 1..1000, --clients 1..64');
  const bundle = JSON.parse(fs.readFileSync(opts.model, 'utf8'));
  opts.modelNote = bundle.coarse ? `two-stage pipeline ${path.basename(opts.model)}` : path.basename(opts.model);
  const results = await run(opts);
  const md = markdown(results, opts, (Date.now() - t0) / 1000);
  process.stdout.write('\n' + md + '\n');
  if (values['write-docs']) {
    const doc = path.join(root, 'docs', 'BENCHMARKS.md');
    const begin = '<!-- serve-bench:begin (generated by bench/serve-load.js --write-docs) -->';
    const end = '<!-- serve-bench:end -->';
    let text = fs.readFileSync(doc, 'utf8');
    const block = `${begin}\n${md}\n${end}`;
    const i = text.indexOf(begin.slice(0, 22));
    const j = text.indexOf(end);
    text = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + end.length) : `${text.trimEnd()}\n\n${block}\n`;
    fs.writeFileSync(doc, text);
    process.stderr.write(`serve-load: wrote ${path.relative(root, doc)}\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`serve-load: ${e.stack ?? e}\n`);
  process.exit(1);
});
