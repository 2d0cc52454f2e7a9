/**
 * The DataLoader's worker thread: rebuilds the transform chain from specs, runs items (random tail
 * on cached shared-memory samples, or the whole chain on files it loads itself), collates the batch
 * and transfers the buffers back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Rng } from '../util/rng';
import { isLiversegError } from '../errors';
import { Compose } from '../transforms/compose';
import { transformFromSpec } from '../transforms/registry';
import type { Sample, TransformOutput } from '../transforms/types';
import { collate } from './collate';
import { loadCase } from './load-case';
import { applyTail } from './pipeline';
import type { BatchJob, SerializedError, WorkerInit, WorkerReply } from './worker-protocol';

const init = workerData as WorkerInit;
// User transform modules register themselves on load; their paths are only known at run time.
// eslint-disable-next-line @typescript-eslint/no-require-imports
for (const m of init.modules) require(m);
const asCompose = (t: ReturnType<typeof transformFromSpec>): Compose => (t instanceof Compose ? t : new Compose([t]));
const full = asCompose(transformFromSpec(init.full));
const tail = asCompose(transformFromSpec(init.tail));

// Cached head outputs by case index. Keeping the same objects across jobs lets per-volume memos
// (the crop's foreground index lists, keyed by the label array) survive between epochs.
const cache = new Map<number, TransformOutput>();

function serialize(e: unknown): SerializedError {
  if (isLiversegError(e)) return { name: e.name, message: e.message, code: e.code, path: e.path };
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: 'Error', message: String(e) };
}

async function run(job: BatchJob): Promise<WorkerReply> {
  const samples: Sample[] = [];
  const cases: number[] = [];
  for (const item of job.items) {
    const rng = new Rng(item.rng);
    let out: Sample[];
    if (item.kind === 'cached') {
      const head = cache.get(item.caseIndex);
      if (head === undefined) throw new Error(`worker has no cached sample for case ${item.caseIndex}`);
      out = applyTail(tail, head, rng);
    } else if (item.kind === 'files') {
      out = full.applyAll(await loadCase(item.record), rng);
    } else {
      out = full.applyAll(item.sample, rng);
    }
    for (const s of out) {
      samples.push(s);
      cases.push(item.caseIndex);
    }
  }
  return { type: 'batch', id: job.id, batch: collate(samples, cases) };
}

parentPort?.on('message', (job: BatchJob) => {
  // Register cached samples before any await: a later job (that omits the sample) may start
  // while this one waits for a file.
  for (const item of job.items) if (item.kind === 'cached' && item.output !== undefined) cache.set(item.caseIndex, item.output);
  run(job).then(
    (reply) => {
      const transfer: ArrayBuffer[] = [];
      if (reply.type === 'batch') {
        transfer.push(reply.batch.image.buffer as ArrayBuffer);
        if (reply.batch.label) transfer.push(reply.batch.label.buffer as ArrayBuffer);
      }
      parentPort?.postMessage(reply, transfer);
    },
    (e: unknown) => parentPort?.postMessage({ type: 'error', id: job.id, error: serialize(e) } satisfies WorkerReply),
  );
});
