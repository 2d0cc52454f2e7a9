/**
 * The one error class liverseg throws or rejects with for anything a caller can cause (bad
 * arguments, files, configs, models, native failures). `code` is stable across versions and is
 * what programs should branch on; `message` is for people and never carries a C++ backtrace.
 * Only programming errors inside liverseg itself surface as other Error types.
 */
export const ERROR_CODES = [
  // arguments and configuration (checked in TypeScript before native code runs)
  'ERR_INVALID_ARG',
  'ERR_INVALID_CONFIG',
  'ERR_SHAPE_MISMATCH',
  'ERR_NON_FINITE',
  // native layer
  'ERR_NATIVE_LOAD',
  'ERR_TORCH',
  'ERR_TORCH_OOM',
  'ERR_CUDA_UNAVAILABLE',
  'ERR_ABORTED',
  // files
  'ERR_FILE_NOT_FOUND',
  'ERR_IO',
  'ERR_NIFTI_GZIP',
  'ERR_NIFTI_TRUNCATED',
  'ERR_NIFTI_MAGIC',
  'ERR_NIFTI_HEADER',
  'ERR_NIFTI_DATATYPE',
  'ERR_NIFTI_DIMS',
  'ERR_NIFTI_TOO_LARGE',
  'ERR_DICOM_PARSE',
  'ERR_DICOM_NO_SERIES',
  'ERR_DICOM_TRANSFER_SYNTAX',
  'ERR_DICOM_PIXEL_DATA',
  'ERR_DICOM_GEOMETRY',
  'ERR_DICOM_TOO_LARGE',
  'ERR_DICOM_ZIP',
  'ERR_DICOM_REFERENCE',
  'ERR_DICOM_SEG',
  // data
  'ERR_DATASET',
  'ERR_EMPTY_FOREGROUND',
  'ERR_GEOMETRY_MISMATCH',
  // models and bundles
  'ERR_BUNDLE',
  'ERR_MODEL_MISMATCH',
  'ERR_SAFETENSORS',
  // service (liverseg-serve, liverseg-worker)
  'ERR_JOB_TIMEOUT',
  // the onnxruntime engine (onnxruntime-node missing, or a session that failed)
  'ERR_ONNXRUNTIME',
  // data-parallel training (a dead peer, an unreachable master, a collective that timed out)
  'ERR_DISTRIBUTED',
] as const;

export type LiversegErrorCode = (typeof ERROR_CODES)[number];

export class LiversegError extends Error {
  readonly code: LiversegErrorCode;
  /** The file this error is about, where there is one. */
  readonly path?: string;

  constructor(code: LiversegErrorCode, message: string, options?: { path?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LiversegError';
    this.code = code;
    if (options?.path !== undefined) this.path = options.path;
  }
}

/** The single format for argument mistakes: `Invalid argument 'name': problem`. */
export function invalidArg(name: string, problem: string, code: LiversegErrorCode = 'ERR_INVALID_ARG'): LiversegError {
  return new LiversegError(code, `Invalid argument '${name}': ${problem}`);
}

/** A file-related error; the message always starts with the path. */
export function fileError(code: LiversegErrorCode, path: string, problem: string, cause?: unknown): LiversegError {
  return new LiversegError(code, `${path}: ${problem}`, { path, cause });
}

export function isLiversegError(e: unknown): e is LiversegError {
  return e instanceof LiversegError;
}

/** Short printable form of a value for error messages. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `[${v.slice(0, 8).map(describeValue).join(', ')}${v.length > 8 ? ', ...' : ''}]`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as { length: number }).length})`;
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v);
  if (typeof v === 'object') return 'object';
  return String(v);
}

/** Throws ERR_ABORTED when the signal has fired, so every cancellation reads the same to callers. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new LiversegError('ERR_ABORTED', `${what} was aborted`, { cause: signal.reason });
}
