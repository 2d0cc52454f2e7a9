/** What a job is, as the queue stores it and as the API shows it. */
import type { StageTimings } from '../inferers/segment';
import type { UploadKind } from './sniff';

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
export const JOB_STATES: readonly JobState[] = ['queued', 'running', 'done', 'failed', 'cancelled'];

/** The result files a job can have, in the order the API lists them (ct.nii.gz: a DICOM input as NIfTI, for viewers). */
export const RESULT_FILES = ['mask.nii.gz', 'seg.dcm', 'preview.png', 'stats.json', 'ct.nii.gz'] as const;
export type ResultFile = (typeof RESULT_FILES)[number];

/** Per-job options a client may set (validated by the POST route's schema). */
export interface JobOptions {
  /** Test-time mirroring (8 passes per window). */
  mirror?: boolean;
  /** Sliding-window overlap in [0, 0.9]. */
  overlap?: number;
}

/** What travels through the queue: never a client string that could become a path. */
export interface JobData {
  id: string;
  input: { kind: UploadKind; files: number; bytes: number };
  options: JobOptions;
  /** ms since the epoch. */
  createdAt: number;
}

export interface JobProgress {
  stage: 'fetching' | 'loading' | 'segmenting' | 'writing';
  /** 0..1 over the whole job. */
  fraction: number;
  /** The worker running it. */
  worker?: string;
}

/** What a finished job returns. */
export interface JobOutcome {
  liverFound: boolean;
  /** segment()'s per-stage milliseconds plus the job's own (fetch, write). */
  timings: StageTimings & { fetch: number; write: number; job: number };
  /** Liver statistics (`liverStats`: volume in ml, HU inside the liver, box, centroid, whether the scan cuts it off). */
  stats: Record<string, unknown> | null;
  /** The result files written. */
  results: ResultFile[];
  /** Why a file this kind of input would have was not made (a DICOM series a SEG cannot refer to). */
  unavailable?: Partial<Record<ResultFile, string>>;
  /** The voxel grid of the input. */
  shape: number[];
  spacing: number[];
  worker: string;
}

export interface JobError {
  code: string;
  message: string;
}

/** A job as the queue knows it (in-process or BullMQ). */
export interface JobRecord {
  data: JobData;
  state: JobState;
  progress?: JobProgress;
  startedAt?: number;
  finishedAt?: number;
  outcome?: JobOutcome;
  error?: JobError;
  /** Times a worker started it (more than 1 after a worker died and another took it over). */
  attempts: number;
  /** ms since the epoch after which the job and its files are gone (set once it ends). */
  expiresAt?: number;
}

/** The JSON the API answers for a job. */
export interface JobView {
  id: string;
  state: JobState;
  progress?: JobProgress;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  expiresAt?: string;
  /** Milliseconds: waiting in the queue, running, and segment()'s stages once done. */
  timings?: Record<string, number>;
  input: JobData['input'];
  attempts: number;
  /** The worker running it, or the one that finished it. */
  worker?: string;
  liverFound?: boolean;
  stats?: Record<string, unknown> | null;
  error?: JobError;
  links: Record<string, string>;
}

const iso = (ms?: number): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

export function jobView(r: JobRecord, base = '/v1/jobs'): JobView {
  const id = r.data.id;
  const links: Record<string, string> = { self: `${base}/${id}` };
  for (const f of r.outcome?.results ?? []) links[f] = `${base}/${id}/${f}`;
  const timings: Record<string, number> = {};
  if (r.startedAt !== undefined) timings.queued = r.startedAt - r.data.createdAt;
  if (r.startedAt !== undefined && r.finishedAt !== undefined) timings.running = r.finishedAt - r.startedAt;
  if (r.outcome) for (const [k, v] of Object.entries(r.outcome.timings)) timings[k] = Math.round(v * 10) / 10;
  const v: JobView = {
    id,
    state: r.state,
    createdAt: iso(r.data.createdAt)!,
    input: r.data.input,
    attempts: r.attempts,
    links,
  };
  if (r.progress && (r.state === 'running' || r.state === 'queued')) v.progress = r.progress;
  if (r.startedAt !== undefined) v.startedAt = iso(r.startedAt);
  if (r.finishedAt !== undefined) v.finishedAt = iso(r.finishedAt);
  if (r.expiresAt !== undefined) v.expiresAt = iso(r.expiresAt);
  if (Object.keys(timings).length) v.timings = timings;
  const worker = r.outcome?.worker ?? r.progress?.worker;
  if (worker) v.worker = worker;
  if (r.outcome) {
    v.liverFound = r.outcome.liverFound;
    v.stats = r.outcome.stats;
  }
  if (r.error) v.error = r.error;
  return v;
}

/** JSON schema of {@link JobView}, for fastify's response serialisation. */
export const JOB_VIEW_SCHEMA = {
  type: 'object',
  required: ['id', 'state', 'createdAt', 'input', 'attempts', 'links'],
  properties: {
    id: { type: 'string' },
    state: { type: 'string', enum: JOB_STATES },
    progress: {
      type: 'object',
      properties: { stage: { type: 'string' }, fraction: { type: 'number' }, worker: { type: 'string' } },
    },
    createdAt: { type: 'string' },
    startedAt: { type: 'string' },
    finishedAt: { type: 'string' },
    expiresAt: { type: 'string' },
    timings: { type: 'object', additionalProperties: { type: 'number' } },
    input: { type: 'object', properties: { kind: { type: 'string' }, files: { type: 'integer' }, bytes: { type: 'integer' } } },
    attempts: { type: 'integer' },
    worker: { type: 'string' },
    liverFound: { type: 'boolean' },
    stats: { type: ['object', 'null'], additionalProperties: true },
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
    links: { type: 'object', additionalProperties: { type: 'string' } },
  },
} as const;
