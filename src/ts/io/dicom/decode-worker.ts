/**
 * A decode thread: receives one encapsulated frame at a time, decodes it with the same code the
 * main thread would use (codecs.ts), and transfers the stored values back. Run from the compiled
 * lib/io/dicom/decode-worker.js; see decode-pool.ts.
 */
import { parentPort } from 'node:worker_threads';
import { decodeEncapsulated, FrameError } from './codecs';
import type { DecodeJob, DecodeReply } from './decode-pool';

const KINDS = [Int8Array, Uint8Array, Int16Array, Uint16Array, Int32Array, Uint32Array];

parentPort?.on('message', (job: DecodeJob) => {
  decodeEncapsulated(new Uint8Array(job.frame), job.format, job.out).then(
    (out) => {
      const kind = KINDS.find((k) => out instanceof k)?.name ?? 'Uint8Array';
      const spare = job.out && job.out !== out.buffer && job.out.byteLength > 0 ? job.out : undefined;
      const reply: DecodeReply = { id: job.id, ok: true, kind, buffer: out.buffer as ArrayBuffer, byteOffset: out.byteOffset, length: out.length, spare };
      // The input frame goes back too, detached here: a worker allocates too little for V8 to collect
      // its dead ArrayBuffers promptly, and frames left for the GC would pile up (tens of MB a thread).
      const transfer = [out.buffer as ArrayBuffer];
      if (job.frame.byteLength > 0) transfer.push(job.frame);
      // An output buffer the decoder did not use (too small) goes back as well, so the pool keeps it.
      if (spare) transfer.push(spare);
      parentPort?.postMessage(reply, transfer);
    },
    (e: unknown) => {
      const reply: DecodeReply = {
        id: job.id,
        ok: false,
        code: e instanceof FrameError ? e.code : 'ERR_DICOM_PIXEL_DATA',
        message: (e as Error)?.message ?? String(e),
        spare: job.out && job.out.byteLength > 0 ? job.out : undefined,
      };
      parentPort?.postMessage(
        reply,
        [job.frame, job.out].filter((b): b is ArrayBuffer => b !== undefined && b.byteLength > 0),
      );
    },
  );
});
