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
import { saveDicomSeg } from '../io/dicom';
import { loadVolume } from '../io/load-volume';
import { saveVolume } from '../io/nifti-write';
import type { LoadedPipeline } from '../inferers/pipeline';
import { loadPipeline } from '../inferers/pipeline';
import { renderPreview } from '../inferers/preview';
import { segment } from '../inferers/segment';
import { liverStats } from '../metrics/liver-stats';
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
    const input = await fetchInput(data, ctx.store, dir);
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
    const mask = await segment(volume, { model: ctx.pipeline, signal: ctx.signal, mirror: data.options.mirror, overlap: data.options.overlap }).catch(
      (e: unknown) => {
        throw stopped(ctx.signal) ?? e;
      },
    );
    halt();
    ctx.progress({ stage: 'writing', fraction: 0.9, worker });
    const tWrite0 = performance.now();
    const results: ResultFile[] = [];
    const unavailable: Partial<Record<ResultFile, string>> = {};
    const maskPath = nodePath.join(dir, 'mask.nii.gz');
    await saveVolume(maskPath, mask, { fsync: false });
    await ctx.store.put(data.id, 'mask.nii.gz', maskPath, ctx.expiresAt);
    results.push('mask.nii.gz');
    const stats = liverStats(mask, volume);
    const statsPath = nodePath.join(dir, 'stats.json');
    await fsp.writeFile(statsPath, JSON.stringify(stats, null, 2) + '\n', { mode: 0o600 });
    await ctx.store.put(data.id, 'stats.json', statsPath, ctx.expiresAt);
    results.push('stats.json');
    const previewPath = nodePath.join(dir, 'preview.png');
    await fsp.writeFile(previewPath, await renderPreview(volume, mask), { mode: 0o600 });
    await ctx.store.put(data.id, 'preview.png', previewPath, ctx.expiresAt);
    results.push('preview.png');
    if (volume.dicom) {
      // A DICOM series in: the mask as a DICOM SEG on the same slices, and the CT as NIfTI for the viewer.
      const segPath = nodePath.join(dir, 'seg.dcm');
      try {
        await saveDicomSeg(segPath, mask, { reference: volume, model: { name: nodePath.basename(ctx.pipeline.source) } });
        await ctx.store.put(data.id, 'seg.dcm', segPath, ctx.expiresAt);
        results.push('seg.dcm');
      } catch (e) {
        // A series a SEG cannot refer to (anonymised without UIDs, say) still has its mask.
        if (!(isLiversegError(e) && e.code.startsWith('ERR_DICOM_'))) throw e;
        unavailable['seg.dcm'] = `no DICOM SEG for this series: ${e.message} (${e.code})`;
      }
      const ctPath = nodePath.join(dir, 'ct.nii.gz');
      await saveVolume(ctPath, volume, { fsync: false });
      await ctx.store.put(data.id, 'ct.nii.gz', ctPath, ctx.expiresAt);
      results.push('ct.nii.gz');
    }
    const tEnd = performance.now();
    return {
      liverFound: mask.liverFound,
      timings: { ...mask.timings, fetch: tFetch - t0, write: tEnd - tWrite0, job: tEnd - t0 },
      stats: stats as unknown as Record<string, unknown>,
      results,
      ...(Object.keys(unavailable).length ? { unavailable } : {}),
      shape: [...volume.shape],
      spacing: [...volume.spacing],
      worker,
    };
  } finally {
    await removeQuietly(dir);
  }
}

/**
 * Copies the job's input from the store into `dir`, under names of ours: `ct.nii` / `ct.nii.gz`
 * (the reader sniffs gzip from the bytes either way), `ct.zip`, or a folder of DICOM files.
 */
async function fetchInput(data: JobData, store: BlobStore, dir: string): Promise<string> {
  const gone = (): LiversegError => new LiversegError('ERR_FILE_NOT_FOUND', 'the upload is no longer in the store (expired or removed)');
  const { kind, files } = data.input;
  if (kind === 'dicom') {
    const folder = nodePath.join(dir, 'dicom');
    await fsp.mkdir(folder, { mode: 0o700 });
    for (let i = 0; i < files; i++) if (!(await store.fetch(data.id, `input-${i}`, nodePath.join(folder, `${String(i).padStart(5, '0')}.dcm`)))) throw gone();
    return folder;
  }
  const input = nodePath.join(dir, kind === 'nifti' ? 'ct.nii' : kind === 'nifti-gz' ? 'ct.nii.gz' : 'ct.zip');
  if (!(await store.fetch(data.id, 'input-0', input))) throw gone();
  return input;
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
  message = message.replace(
    new RegExp(`${escapeRegExp(scratch)}/job-[^/\\s]+/(ct\\.nii(\\.gz)?|ct\\.zip|dicom/(\\d+)\\.dcm|dicom)`, 'g'),
    (_m, what: string, n?: string) => (n !== undefined ? `file ${Number(n) + 1} of the upload` : what === 'dicom' ? 'the uploaded series' : 'the upload'),
  );
  message = message.split(scratch).join('<scratch>');
  return { code, message: message.split('\n')[0].slice(0, 500) };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
