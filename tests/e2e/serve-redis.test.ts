/**
 * liverseg-serve scaled out through BullMQ on a real Redis (Debian's redis-server, started here on
 * 127.0.0.1 with a free port): two API instances in this process, two `liverseg-worker` processes
 * (lib/cli/worker.js). Twelve jobs, one worker SIGKILLed while it runs one: all twelve complete
 * exactly once, the killed one on the other worker, and every mask is byte-identical to
 * segment() in this process. Then cancel through either API, worker heartbeats in /readyz and
 * /metrics, and a worker SIGTERMed mid-job that finishes it before exiting.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { clearPipelineCache, loadPipeline } from '../../src/ts/inferers/pipeline';
import { segment } from '../../src/ts/inferers/segment';
import { saveVolume } from '../../src/ts/io/nifti-write';
import { createServer } from '../../src/ts/serve';
import type { JobView, LiversegServer } from '../../src/ts/serve';
import { findRedisServer, startRedis, TestRedis } from '../helpers/redis';
import { TrainedPipeline, trainedPipeline } from '../helpers/trained-pipeline';

const ROOT = path.join(__dirname, '..', '..');
const WORKER_CLI = path.join(ROOT, 'lib', 'cli', 'worker.js');
const redisBin = findRedisServer();
// Skips (with this reason) where Debian's redis-server is missing; scripts/setup.js installs it when run as root.
const describeRedis = redisBin ? describe : describe.skip;
if (!redisBin) console.warn('serve-redis: skipped: redis-server not found (apt-get install redis-server, or run scripts/setup.js as root)');

interface Worker {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  log: () => string;
}

let tp: TrainedPipeline;
let redis: TestRedis;
let api1: LiversegServer;
let api2: LiversegServer;
let tmp: string;
const workers = new Map<string, Worker>();
/** Unseen phantom path -> the uncompressed NIfTI bytes of segment()'s mask for it, in this process. */
const reference = new Map<string, Buffer>();

function startWorkerProcess(name: string): Worker {
  // Its scratch folder inside this test's, so a worker killed mid-job leaves nothing behind.
  const scratch = path.join(tmp, name);
  fs.mkdirSync(scratch, { recursive: true });
  const child = spawn(
    process.execPath,
    [WORKER_CLI, '--model', tp.pipeline, '--queue', redis.url, '--name', name, '--lock-duration', '3s', '--stalled-interval', '1s', '--drain-timeout', '60s'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: scratch } },
  );
  let log = '';
  child.stdout!.on('data', (d) => (log += d.toString()));
  child.stderr!.on('data', (d) => (log += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const w = { name, child, exited, log: () => log };
  workers.set(name, w);
  return w;
}

async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

async function submit(api: LiversegServer, file: string, query = ''): Promise<string> {
  const res = await fetch(`${api.url}/v1/jobs${query}`, {
    method: 'POST',
    body: fs.readFileSync(file),
    headers: { 'content-type': 'application/octet-stream' },
  });
  expect(res.status).toBe(202);
  return (await json<JobView>(res)).id;
}

async function getJob(api: LiversegServer, id: string): Promise<JobView> {
  const res = await fetch(`${api.url}/v1/jobs/${id}`);
  expect(res.status).toBe(200);
  return json<JobView>(res);
}

async function until<T>(what: string, f: () => Promise<T | undefined | null | false>, timeoutMs = 120_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const ended = (j: JobView): boolean => j.state === 'done' || j.state === 'failed' || j.state === 'cancelled';

describeRedis('liverseg-serve with BullMQ on Redis', () => {
  beforeAll(async () => {
    expect(fs.existsSync(WORKER_CLI)).toBe(true); // built by scripts/setup.js (npm test) or npx tsc -p .
    tp = await trainedPipeline();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'liverseg-serve-redis-'));
    redis = await startRedis(redisBin!);
    api1 = await createServer({ queue: redis.url, port: 0, maxQueued: 32, lockDurationMs: 3000 });
    api2 = await createServer({ queue: redis.url, port: 0, maxQueued: 32, lockDurationMs: 3000 });
    startWorkerProcess('worker-a');
    startWorkerProcess('worker-b');
    const model = await loadPipeline(tp.pipeline);
    const images = path.join(tp.unseen, 'imagesTr');
    for (const f of fs.readdirSync(images).sort()) {
      const p = path.join(images, f);
      const out = path.join(tmp, `ref-${f}`);
      await saveVolume(out, await segment(p, { model }));
      reference.set(p, zlib.gunzipSync(fs.readFileSync(out)));
    }
    await until('two workers with a model loaded', async () => {
      const r = await json<{ workers: number }>(await fetch(`${api1.url}/readyz`));
      return r.workers === 2;
    });
  }, 900_000);

  afterAll(async () => {
    for (const w of workers.values()) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    await Promise.all([...workers.values()].map((w) => w.exited));
    await api1?.close();
    await api2?.close();
    await redis?.stop();
    await clearPipelineCache();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('runs 12 jobs on two workers, one SIGKILLed mid-job: 12 of 12 complete once, byte-identical to segment()', async () => {
    const inputs = [...reference.keys()];
    const jobs: Array<{ id: string; input: string }> = [];
    for (let i = 0; i < 12; i++) {
      const input = inputs[i % inputs.length];
      // Either API instance takes jobs; the other answers for them.
      jobs.push({ id: await submit(i % 2 ? api2 : api1, input), input });
    }
    const victim = await until('a job running on worker-a', async () => {
      for (const j of jobs) {
        const v = await getJob(api2, j.id);
        if (v.state === 'running' && v.worker === 'worker-a' && v.progress?.stage === 'segmenting') return v.id;
      }
      return undefined;
    });
    workers.get('worker-a')!.child.kill('SIGKILL');
    expect(await workers.get('worker-a')!.exited).toBeNull();

    const views = await until(
      'all 12 jobs to end',
      async () => {
        const vs = await Promise.all(jobs.map((j) => getJob(j.id.charCodeAt(0) % 2 ? api1 : api2, j.id)));
        return vs.every(ended) ? vs : undefined;
      },
      180_000,
      250,
    );
    expect(views.map((v) => v.state)).toEqual(Array(12).fill('done'));
    const killed = views.find((v) => v.id === victim)!;
    expect(killed.attempts).toBe(2);
    expect(killed.worker).toBe('worker-b');

    for (const [i, j] of jobs.entries()) {
      const res = await fetch(`${(i % 2 ? api1 : api2).url}/v1/jobs/${j.id}/mask.nii.gz`);
      expect(res.status).toBe(200);
      const bytes = zlib.gunzipSync(Buffer.from(await res.arrayBuffer()));
      expect([j.id, bytes.equals(reference.get(j.input)!)]).toEqual([j.id, true]);
    }
    // Once: BullMQ counts twelve completions and no failure.
    const counts = await (api1.queue as unknown as { queue: { getJobCounts(...s: string[]): Promise<Record<string, number>> } }).queue.getJobCounts(
      'completed',
      'failed',
      'active',
      'wait',
    );
    expect(counts).toEqual({ completed: 12, failed: 0, active: 0, wait: 0 });
  }, 300_000);

  it('cancels a queued and a running job through the other API instance', async () => {
    const input = [...reference.keys()][0];
    const running = await submit(api1, input, '?mirror=true');
    await until('the long job to run', async () => (await getJob(api1, running)).state === 'running');
    const queued = await submit(api1, input);
    expect((await getJob(api2, queued)).state).toBe('queued');
    const a = await fetch(`${api2.url}/v1/jobs/${queued}`, { method: 'DELETE' });
    expect([a.status, await a.json()]).toEqual([200, { id: queued, state: 'cancelled' }]);
    expect((await getJob(api1, queued)).state).toBe('cancelled');
    const b = await fetch(`${api2.url}/v1/jobs/${running}`, { method: 'DELETE' });
    expect(b.status).toBe(202);
    const stopped = await until('the running job to stop', async () => {
      const v = await getJob(api1, running);
      return ended(v) ? v : undefined;
    });
    expect(stopped).toMatchObject({ state: 'cancelled', error: { code: 'ERR_ABORTED' } });
    expect((await fetch(`${api1.url}/v1/jobs/${running}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${api2.url}/v1/jobs/${running}`)).status).toBe(404);
  }, 120_000);

  it('reports the workers in /readyz and their memory in /metrics', async () => {
    const ready = await json<{ status: string; workers: number; store: string }>(await fetch(`${api1.url}/readyz`));
    expect(ready).toMatchObject({ status: 'ready', store: 'redis' });
    expect(ready.workers).toBeGreaterThanOrEqual(1);
    const text = await (await fetch(`${api2.url}/metrics`)).text();
    expect(text).toMatch(/^liverseg_worker_memory_bytes\{worker="worker-b",kind="rss"\} [1-9]\d*$/m);
    expect(text).toMatch(/^liverseg_jobs\{state="done"\} 12$/m);
    expect(text).toMatch(/^liverseg_queue_depth 0$/m);
  });

  it('a worker SIGTERMed with a job in flight finishes it, then exits 0; with no worker left the API is not ready', async () => {
    const input = [...reference.keys()][1];
    const id = await submit(api2, input);
    await until('the job to run on worker-b', async () => (await getJob(api2, id)).state === 'running');
    const b = workers.get('worker-b')!;
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
    const v = await getJob(api1, id);
    expect(v).toMatchObject({ state: 'done', worker: 'worker-b', attempts: 1 });
    const res = await fetch(`${api1.url}/v1/jobs/${id}/mask.nii.gz`);
    expect(zlib.gunzipSync(Buffer.from(await res.arrayBuffer())).equals(reference.get(input)!)).toBe(true);
    expect(b.log()).toMatch(/stopped \(\d+ done, 0 failed, 1 cancelled\)/);
    const ready = await until(
      'readyz to say no worker',
      async () => {
        const r = await fetch(`${api1.url}/readyz`);
        return r.status === 503 ? json<{ reason: string }>(r) : undefined;
      },
      30_000,
      500,
    );
    expect(ready.reason).toMatch(/no worker/);
  }, 120_000);
});
