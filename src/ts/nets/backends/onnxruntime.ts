/**
 * onnxruntime-node, the optional dependency that runs exported networks without the addon.
 *
 * A session lives on a worker thread of its own: onnxruntime-node's `run()` computes on the
 * calling thread (a 128^3 forward blocks for seconds), so running it on the main thread would stall
 * a service's event loop. Inputs go to the worker and outputs come back as transferred buffers
 * (no copy). The worker's code is the small script below (plain JavaScript, evaluated), so it runs
 * the same from lib/ and from the TypeScript sources.
 */
import * as os from 'os';
import { Worker } from 'worker_threads';
import { LiversegError } from '../../errors';

/** How an onnxruntime session runs on the CPU. */
export interface OrtSessionOptions {
  /** Intra-op threads. Default: LIVERSEG_NUM_THREADS, else every logical CPU. */
  threads?: number;
  /** onnxruntime's CPU memory arena (faster repeated runs; keeps the peak allocated). Default true. */
  memoryArena?: boolean;
  /** Graph optimisation level. Default 'all' (layout transforms to NCHWc included). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Whether idle intra-op threads spin waiting for work (onnxruntime's default, true) or sleep. */
  spinning?: boolean;
}

export interface OrtAvailability {
  available: boolean;
  /** The installed onnxruntime-node version, when available. */
  version?: string;
  /** Why it is not available. */
  reason?: string;
  /** The resolved module path (what the worker requires). */
  modulePath?: string;
}

let availability: OrtAvailability | undefined;

/** Whether onnxruntime-node is installed and its binary loads on this platform (checked once). */
export function onnxruntimeAvailability(): OrtAvailability {
  if (availability) return availability;
  try {
    const modulePath = require.resolve('onnxruntime-node');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ort = require(modulePath) as { env?: { versions?: { node?: string } } };
    availability = { available: true, version: ort.env?.versions?.node, modulePath };
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    availability = {
      available: false,
      reason: /Cannot find module 'onnxruntime-node'/.test(msg)
        ? 'onnxruntime-node is not installed (an optional dependency of liverseg; npm drops it when its install step cannot download ' +
          'CUDA files: `ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node`, its CPU libraries need no download)'
        : `onnxruntime-node did not load: ${msg}`,
    };
  }
  return availability;
}

/** Throws ERR_ONNXRUNTIME when onnxruntime-node cannot be used; returns its module path. */
export function requireOnnxruntime(): string {
  const a = onnxruntimeAvailability();
  if (!a.available) throw new LiversegError('ERR_ONNXRUNTIME', `The onnxruntime engine is unavailable: ${a.reason}`);
  return a.modulePath!;
}

/** Threads a session uses by default. */
export function defaultOrtThreads(): number {
  const env = Number(process.env.LIVERSEG_NUM_THREADS);
  if (Number.isInteger(env) && env > 0) return env;
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

const WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('worker_threads');
const ort = require(workerData.modulePath);
let session = null;
const fail = (id, e) => parentPort.postMessage({ type: 'error', id, message: String((e && e.message) || e) });
(async () => {
  try {
    session = await ort.InferenceSession.create(workerData.model, workerData.options);
    parentPort.postMessage({ type: 'ready', inputs: session.inputNames, outputs: session.outputNames });
  } catch (e) {
    fail(-1, e);
  }
})();
parentPort.on('message', async (m) => {
  if (m.type === 'close') {
    if (session) await session.release().catch(() => undefined);
    session = null;
    parentPort.close();
    return;
  }
  try {
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', new Float32Array(m.buffer, 0, m.length), m.dims) };
    const out = (await session.run(feeds))[session.outputNames[0]];
    const data = new Float32Array(out.data.length);
    data.set(out.data);
    if (typeof out.dispose === 'function') out.dispose();
    parentPort.postMessage({ type: 'result', id: m.id, buffer: data.buffer, length: data.length, dims: out.dims }, [data.buffer]);
  } catch (e) {
    fail(m.id, e);
  }
});
`;

interface Pending {
  resolve: (r: { data: Float32Array; dims: number[] }) => void;
  reject: (e: Error) => void;
}

type WorkerReply =
  | { type: 'ready'; inputs: string[]; outputs: string[] }
  | { type: 'result'; id: number; buffer: ArrayBuffer; length: number; dims: number[] }
  | { type: 'error'; id: number; message: string };

/** One onnxruntime InferenceSession on its own worker thread; one float32 input, one float32 output. */
export class OrtSession {
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closed = false;
  private failure: LiversegError | null = null;

  private constructor(
    private readonly worker: Worker,
    readonly threads: number,
  ) {}

  /** Starts a worker and creates the session from the model's bytes. */
  static async create(model: Uint8Array, options: OrtSessionOptions = {}): Promise<OrtSession> {
    const modulePath = requireOnnxruntime();
    const threads = options.threads ?? defaultOrtThreads();
    const sessionOptions = {
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: options.optimization ?? 'all',
      enableCpuMemArena: options.memoryArena ?? true,
      // Shapes vary from call to call (windows, whole ROIs): memory patterns only help fixed shapes.
      enableMemPattern: false,
      extra: { session: { intra_op: { allow_spinning: options.spinning === false ? '0' : '1' } } },
    };
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { modulePath, model, options: sessionOptions } });
    const session = new OrtSession(worker, threads);
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => reject(new LiversegError('ERR_ONNXRUNTIME', `onnxruntime could not start: ${e.message}`, { cause: e }));
      worker.once('error', onError);
      worker.once('message', (m: WorkerReply) => {
        worker.off('error', onError);
        if (m.type === 'ready') resolve();
        else reject(new LiversegError('ERR_ONNXRUNTIME', `onnxruntime could not load the model: ${m.type === 'error' ? m.message : m.type}`));
      });
    }).catch(async (e) => {
      await worker.terminate();
      throw e;
    });
    session.listen();
    // An idle session does not keep the process alive (a script that segments and returns exits as
    // with LibTorch); a run in flight does.
    worker.unref();
    return session;
  }

  private listen(): void {
    this.worker.on('message', (m: WorkerReply) => {
      if (m.type === 'ready') return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.worker.unref();
      if (m.type === 'result') p.resolve({ data: new Float32Array(m.buffer, 0, m.length), dims: m.dims });
      else p.reject(new LiversegError('ERR_ONNXRUNTIME', `onnxruntime failed: ${m.message}`));
    });
    const fail = (why: string) => {
      this.failure = new LiversegError('ERR_ONNXRUNTIME', `onnxruntime's worker thread ${why}`);
      for (const p of this.pending.values()) p.reject(this.failure);
      this.pending.clear();
    };
    this.worker.on('error', (e) => fail(`failed: ${e.message}`));
    this.worker.on('exit', (code) => {
      if (!this.closed) fail(`exited (code ${code})`);
    });
  }

  /**
   * Runs the network on `input` (tensor `dims`, float32). The input's buffer is transferred to the
   * worker when it is a whole, non-shared ArrayBuffer (it is then detached here); otherwise copied.
   */
  run(input: Float32Array, dims: number[]): Promise<{ data: Float32Array; dims: number[] }> {
    if (this.closed) return Promise.reject(new LiversegError('ERR_INVALID_ARG', "Invalid argument 'model': this model was disposed"));
    if (this.failure) return Promise.reject(this.failure);
    const whole = input.byteOffset === 0 && input.byteLength === input.buffer.byteLength && input.buffer instanceof ArrayBuffer;
    const own = whole ? input : input.slice();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'run', id, buffer: own.buffer, length: own.length, dims }, [own.buffer as ArrayBuffer]);
    });
  }

  /** Releases the session and ends the worker. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ type: 'close' });
    const timer = setTimeout(() => void this.worker.terminate(), 2000);
    await exited;
    clearTimeout(timer);
  }
}
