/**
 * The resource limits every DICOM read honours, so a hostile or broken input (a zip bomb, a header
 * that claims gigabytes of pixels, a deflated file that inflates without end) ends in
 * ERR_DICOM_TOO_LARGE before anything large is allocated, never in an out-of-memory crash.
 */
import * as os from 'node:os';
import { describeValue, fileError, invalidArg } from '../../errors';

export interface DicomLimits {
  /** Largest single file (or zip entry, or inflated deflated data set) in bytes. Default 1 GiB. */
  maxFileBytes?: number;
  /** Most bytes read from a source in all (zip entries as inflated). Default 16 GiB. */
  maxTotalBytes?: number;
  /** Most files (or zip entries) looked at. Default 100,000. */
  maxFiles?: number;
  /** Most voxels in the volume. Default 2**31. */
  maxVoxels?: number;
}

export interface ResolvedLimits {
  maxFileBytes: number;
  maxTotalBytes: number;
  maxFiles: number;
  maxVoxels: number;
}

export const DEFAULT_LIMITS: ResolvedLimits = {
  maxFileBytes: 1 << 30,
  maxTotalBytes: 16 * 2 ** 30,
  maxFiles: 100_000,
  maxVoxels: 2 ** 31,
};

export function resolveLimits(o: DicomLimits): ResolvedLimits {
  const out = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as Array<keyof ResolvedLimits>) {
    const v = o[key];
    if (v === undefined) continue;
    if (!(typeof v === 'number' && v > 0)) throw invalidArg(`options.${key}`, `expected a positive number, got ${describeValue(v)}`);
    out[key] = v;
  }
  return out;
}

/** The memory a large allocation may take: most of the machine's RAM (a hint, not a promise). */
export function memoryBudget(): number {
  const constrained = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
  const total = os.totalmem();
  return 0.8 * (constrained && constrained > 0 && constrained < total ? constrained : total);
}

const GiB = 2 ** 30;
export const fmtBytes = (n: number): string => (n >= GiB ? `${(n / GiB).toFixed(1)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`);

/** Refuses an allocation of `bytes` that the limits or the machine's memory cannot hold. */
export function checkAllocation(bytes: number, voxels: number, limits: ResolvedLimits, source: string, what: string): void {
  if (voxels > limits.maxVoxels) {
    throw fileError('ERR_DICOM_TOO_LARGE', source, `${what} would have ${voxels} voxels, more than maxVoxels (${limits.maxVoxels})`);
  }
  const budget = memoryBudget();
  if (!Number.isFinite(bytes) || bytes > budget) {
    throw fileError('ERR_DICOM_TOO_LARGE', source, `${what} would need ${fmtBytes(bytes)}, more than this machine's memory allows (${fmtBytes(budget)})`);
  }
}
