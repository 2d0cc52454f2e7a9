/**
 * Runs one job wherever it is taken (the API's in-process queue or a BullMQ worker): fetch the
 * input from the store into a private scratch folder, load it, segment it with the pipeline the
 * process loaded at start, write the results back to the store.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { performance } from 'node:perf_hooks';
import { isLiversegError, LiversegError } from '../errors';
import { loadVolume } from '../io/nifti-read';
import { saveVolume } from '../io/nifti-write';
import type { LoadedPipeline } from '../inferers/pipeline';
import { loadPipeline } from '../inferers/pipeline';
import { segment } from '../inferers/segment';
import type { JobData, JobError, JobOutcome, JobProgress, ResultFile } from './jobs';
import type { BlobStore } from './store';
import { removeQuietly } from './store';

/** Why a running job was stopped. */
export type StopReason = 'cancelled' | 'timeout' | 'shutdown';

export class JobStopped extends Error {
  constructor(readonly reason: StopReason) {
    super(`job stopped: ${reason}`);
  }
}

export interface RunContext {
  store: BlobStore;
  pipeline: LoadedPipeline;
  /** Fires when the job must stop; its reason is a {@link StopReason}. */
  signal: AbortSignal;
  progress(p: JobProgress): void;
  /** Expiry given to result files (the queue moves it to finish + TTL once the job ends). */
  expiresAt: number;
  worker: string;
}

/** A default worker name: host and process. */
export function defaultWorkerName(): string {
  return `${os.hostname()}:${process.pid}`;
}

/** Loads the model once per process (cached by path and device). */
export function loadModel(model: string, device?: string): Promise<LoadedPipeline> {
  return loadPipeline(model, { device });
}

function stopped(signal: AbortSignal): JobStopped | null {
  if (!signal.aborted) return null;
  const r = signal.reason as unknown;
  return new JobStopped(r === 'cancelled' || r === 'timeout' || r === 'shutdown' ? r : 'cancelled');
}

/** Runs the job; throws {@link JobStopped} when stopped, a LiversegError (or other) when it fails. */
export async function runJob(data: JobData, ctx: RunContext): Promise<JobOutcome> {
  const t0 = performance.now();
  const dir = await fsp.mkdtemp(nodePath.join(ctx.store.scratch, 'job-'));
  const worker = ctx.worker;
  try {
    ctx.progress({ stage: 'fetching', fraction: 0.02, worker });
    if (data.input.kind !== 'nifti' && data.input.kind !== 'nifti-gz') {
      throw new LiversegError('ERR_INVALID_ARG', `${data.input.kind} input is not supported by this build of liverseg (NIfTI only)`);
    }
    // The extension only helps people reading messages: the reader sniffs gzip from the bytes.
    const input = nodePath.join(dir, data.input.kind === 'nifti' ? 'ct.nii' : 'ct.nii.gz');
    if (!(await ctx.store.fetch(data.id, 'input-0', input))) throw new LiversegError('ERR_FILE_NOT_FOUND', 'the upload is no longer in the store (expired or removed)');
    const tFetch = performance.now();
    const halt = (): void => {
      const s = stopped(ctx.signal);
      if (s) throw s;
    };
    halt();
    ctx.progress({ stage: 'loading', fraction: 0.08, worker });
    const volume = await loadVolume(input);
    halt();
    ctx.progress({ stage: 'segmenting', fraction: 0.15, worker });
    const mask = await segment(volume, { model: ctx.pipeline, signal: ctx.signal, mirror: data.options.mirror, overlap: data.options.overlap }).catch((e: unknown) => {
      throw stopped(ctx.signal) ?? e;
    });
    halt();
    ctx.progress({ stage: 'writing', fraction: 0.9, worker });
    const tWrite0 = performance.now();
    const results: ResultFile[] = [];
    const maskPath = nodePath.join(dir, 'mask.nii.gz');
    await saveVolume(maskPath, mask, { fsync: false });
    await ctx.store.put(data.id, 'mask.nii.gz', maskPath, ctx.expiresAt);
    results.push('mask.nii.gz');
    const tEnd = performance.now();
    return {
      liverFound: mask.liverFound,
      timings: { ...mask.timings, fetch: tFetch - t0, write: tEnd - tWrite0, job: tEnd - t0 },
      stats: null,
      results,
      shape: [...volume.shape],
      spacing: [...volume.spacing],
      worker,
    };
  } finally {
    await removeQuietly(dir);
  }
}

/** The error a failed job reports: its code and message, with no server path in it. */
export function jobError(e: unknown, scratch: string): JobError {
  if (e instanceof JobStopped) {
    return e.reason === 'timeout'
      ? { code: 'ERR_JOB_TIMEOUT', message: 'the job ran past its time limit and was stopped' }
      : { code: 'ERR_ABORTED', message: e.reason === 'cancelled' ? 'the job was cancelled' : 'the service shut down before the job finished' };
  }
  const code = isLiversegError(e) ? e.code : 'ERR_INTERNAL';
  let message = e instanceof Error ? e.message : String(e);
  // Messages name the file they are about: say "the upload" rather than where the server keeps it.
  message = message.replace(new RegExp(`${escapeRegExp(scratch)}/job-[^/]+/ct\\.nii(\\.gz)?`, 'g'), 'the upload');
  message = message.split(scratch).join('<scratch>');
  return { code, message: message.split('\n')[0].slice(0, 500) };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
