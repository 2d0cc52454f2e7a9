/**
 * Where compressed frames are decoded: in worker threads when the compiled worker script is
 * available (lib/io/dicom/decode-worker.js, i.e. liverseg built or installed), so the WebAssembly
 * codecs run in parallel and never block the event loop; otherwise on the main thread, yielding to
 * the event loop after every frame (a frame takes tens of milliseconds). Both paths run the same
 * decoder code, so they give the same values.
 */
import { statSync } from 'node:fs';
import * as nodePath from 'node:path';
import { Worker } from 'node:worker_threads';
import { decodeEncapsulated, FrameError, FrameFormat, StoredFrame } from './codecs';

export interface DecodeJob {
  id: number;
  frame: ArrayBuffer;
  format: FrameFormat;
  /** A recycled buffer to decode into (transferred there and back). */
  out?: ArrayBuffer;
}

/** A decoded frame or an error; `spare` is the job's output buffer when it went unused. */
export type DecodeReply =
  | { id: number; ok: true; kind: string; buffer: ArrayBuffer; byteOffset: number; length: number; spare?: ArrayBuffer }
  | { id: number; ok: false; code: 'ERR_DICOM_PIXEL_DATA' | 'ERR_DICOM_TRANSFER_SYNTAX'; message: string; spare?: ArrayBuffer };

export interface FrameDecoder {
  /** Worker threads in use; 0 when decoding on the main thread. */
  readonly threads: number;
  /** Decodes one frame. `frame`'s buffer may be transferred to a decode thread: do not use it afterwards. */
  decode(frame: Uint8Array, format: FrameFormat): Promise<StoredFrame>;
  /** Hands a decoded frame's buffer back for reuse, once its values have been copied out. */
  release(frame: StoredFrame): void;
  close(): Promise<void>;
}

/**
 * Frame-sized buffers for reuse: decoding a series allocates nothing per frame once the pool is
 * warm, which keeps memory flat (glibc would otherwise grow a thread's heap with every 0.5 MB frame).
 */
class BufferPool {
  private free: ArrayBuffer[] = [];
  constructor(private readonly max: number) {}
  take(bytes: number): ArrayBuffer | undefined {
    const i = this.free.findIndex((b) => b.byteLength >= bytes);
    return i < 0 ? undefined : this.free.splice(i, 1)[0];
  }
  give(b: ArrayBuffer | undefined): void {
    if (b && b.byteLength > 0 && this.free.length < this.max && !this.free.includes(b)) this.free.push(b);
  }
}

/** The bytes a decoded frame takes: one or two per sample (32-bit data is not compressed in DICOM). */
function frameBytes(f: FrameFormat): number {
  return f.rows * f.columns * f.samplesPerPixel * (f.bitsAllocated <= 8 ? 1 : 2);
}

/** The most one frame may take on a decode thread before the thread is stopped. */
const FRAME_TIMEOUT_MS = 60_000;

const ARRAYS: Record<string, new (b: ArrayBuffer, o: number, n: number) => StoredFrame> = {
  Uint8Array,
  Int8Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
};

/**
 * The compiled worker script, or undefined. From lib/ it sits beside this file. From the
 * TypeScript sources (tests) the package's lib/ copy is used only when it is newer than every
 * source it was compiled from, so a stale build is never what runs.
 */
export function findDecodeWorker(): string | undefined {
  const here = nodePath.join(__dirname, 'decode-worker.js');
  const mtime = (p: string): number => {
    try {
      return statSync(p).mtimeMs;
    } catch {
      return 0;
    }
  };
  if (!__filename.endsWith('.ts')) return mtime(here) > 0 ? here : undefined;
  const built = nodePath.resolve(__dirname, '../../../../lib/io/dicom/decode-worker.js');
  const builtTime = mtime(built);
  if (builtTime === 0) return undefined;
  const sources = ['decode-worker.ts', 'decode-pool.ts', 'codecs.ts', '../../errors.ts'].map((f) => mtime(nodePath.join(__dirname, f)));
  return sources.every((t) => t > 0 && t <= builtTime) ? built : undefined;
}

function inlineDecoder(): FrameDecoder {
  const pool = new BufferPool(4);
  return {
    threads: 0,
    async decode(frame, format) {
      const out = await decodeEncapsulated(frame, format, pool.take(frameBytes(format)));
      await new Promise((r) => setImmediate(r));
      return out;
    },
    release: (frame) => pool.give(frame.buffer as ArrayBuffer),
    close: async () => undefined,
  };
}

interface Slot {
  worker: Worker | null;
  pending: Map<number, { resolve: (f: StoredFrame) => void; reject: (e: Error) => void }>;
}

/** A decoder on `threads` worker threads (0, or no compiled worker: the main thread). */
export function createFrameDecoder(threads: number): FrameDecoder {
  const script = threads > 0 ? findDecodeWorker() : undefined;
  if (!script) return inlineDecoder();
  const slots: Slot[] = Array.from({ length: threads }, () => ({ worker: null, pending: new Map() }));
  const pool = new BufferPool(4 * threads + 2);
  let nextId = 0;
  let closed = false;

  const start = (slot: Slot): Worker => {
    const w = new Worker(script);
    slot.worker = w;
    // An idle thread does not keep the process alive; one with frames in flight does.
    w.unref();
    w.on('message', (r: DecodeReply) => {
      const p = slot.pending.get(r.id);
      if (!p) return;
      slot.pending.delete(r.id);
      if (slot.pending.size === 0) w.unref();
      pool.give(r.spare);
      // Nothing thrown here may escape: it would be an uncaught exception in the caller's process.
      try {
        const Ctor = r.ok ? ARRAYS[r.kind] : undefined;
        if (r.ok && Ctor) p.resolve(new Ctor(r.buffer, r.byteOffset, r.length));
        else if (r.ok) p.reject(new FrameError('ERR_DICOM_PIXEL_DATA', `decode thread returned an unknown array type ${r.kind}`));
        else p.reject(new FrameError(r.code, r.message));
      } catch (e) {
        p.reject(new FrameError('ERR_DICOM_PIXEL_DATA', `decode thread returned a bad frame: ${(e as Error).message}`));
      }
    });
    const fail = (why: string): void => {
      if (slot.worker === w) slot.worker = null;
      for (const p of slot.pending.values()) p.reject(new FrameError('ERR_DICOM_PIXEL_DATA', `decode thread ${why}`));
      slot.pending.clear();
    };
    w.on('error', (e) => fail(`failed: ${e.message}`));
    w.on('exit', (code) => {
      if (!closed) fail(`exited (code ${code})`);
    });
    return w;
  };

  return {
    threads,
    decode(frame, format) {
      if (closed) return Promise.reject(new Error('decoder closed'));
      let slot = slots[0];
      for (const s of slots) if (s.pending.size < slot.pending.size) slot = s;
      const worker = slot.worker ?? start(slot);
      const id = nextId++;
      // A frame that is all of its buffer is handed over as it is (the caller is done with it);
      // a view into a larger buffer is copied, since the rest of that buffer is not ours to move.
      const whole = frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength && frame.buffer instanceof ArrayBuffer;
      const copy = whole ? frame : frame.slice();
      const out = pool.take(frameBytes(format));
      return new Promise<StoredFrame>((resolve, reject) => {
        // A codec that never returns (a damaged stream it loops on) costs its thread, not the load.
        const watchdog = setTimeout(() => {
          if (!slot.pending.has(id)) return;
          slot.pending.delete(id);
          reject(new FrameError('ERR_DICOM_PIXEL_DATA', `decoding the frame took more than ${FRAME_TIMEOUT_MS / 1000} s`));
          void worker.terminate();
        }, FRAME_TIMEOUT_MS);
        watchdog.unref();
        const done =
          <T>(f: (v: T) => void) =>
          (v: T): void => {
            clearTimeout(watchdog);
            f(v);
          };
        slot.pending.set(id, { resolve: done(resolve), reject: done(reject) });
        worker.ref();
        const input = copy.buffer as ArrayBuffer;
        worker.postMessage({ id, frame: input, format, out } satisfies DecodeJob, out ? [input, out] : [input]);
      });
    },
    release: (frame) => pool.give(frame.buffer as ArrayBuffer),
    async close() {
      closed = true;
      await Promise.all(slots.map((s) => s.worker?.terminate()));
    },
  };
}
