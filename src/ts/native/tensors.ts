/**
 * Crossing the boundary: public batches are in NIfTI order ([B, C, ni, nj, nk], i fastest), the
 * addon speaks tensor order ([B, C, nk, nj, ni]). The memory layout is the same, so only the
 * shape list is reversed; no voxel is copied.
 */
import { ERROR_CODES, LiversegError, LiversegErrorCode, describeValue, invalidArg } from '../errors';
import { firstNonFinite } from '../io/voxels';
import type { Vec3 } from '../volume';
import type { NativeTensor } from './binding';
import { adopt, arrayKind, isFloatArray, NATIVE_DTYPE_NAMES, NativeArray, nativeDtypeOf } from './dtypes';

/** A batch of volumes in NIfTI order: `shape` = [batch, channels, ni, nj, nk], i fastest in `data`. */
export interface TensorBatch<T extends NativeArray = NativeArray> {
  data: T;
  shape: [number, number, number, number, number];
}

/** [ni, nj, nk] <-> [D, H, W]: the same three sizes in the other order. */
export function reverse3(s: readonly number[]): Vec3 {
  return [s[2], s[1], s[0]];
}

export function toNativeBatch<T extends NativeArray>(b: TensorBatch<T>): NativeTensor<T> {
  return { data: b.data, shape: [b.shape[0], b.shape[1], b.shape[4], b.shape[3], b.shape[2]] };
}

export function fromNativeBatch<T extends NativeArray>(t: NativeTensor<T>): TensorBatch<T> {
  const s = t.shape;
  return { data: adopt(t.data), shape: [s[0], s[1], s[4], s[3], s[2]] };
}

/** Checks a batch before it goes native; names the argument and what is wrong. */
export function assertBatch(b: unknown, name: string, opts: { float?: boolean; finite?: boolean } = {}): asserts b is TensorBatch {
  if (b === null || typeof b !== 'object') throw invalidArg(name, `expected { data, shape }, got ${describeValue(b)}`);
  const { data, shape } = b as Partial<TensorBatch>;
  if (!Array.isArray(shape) || shape.length !== 5 || !shape.every((s) => Number.isInteger(s) && s >= 0)) {
    throw invalidArg(`${name}.shape`, `expected [batch, channels, ni, nj, nk] (5 non-negative integers), got ${describeValue(shape)}`, 'ERR_SHAPE_MISMATCH');
  }
  if (shape.some((s) => s === 0)) throw invalidArg(`${name}.shape`, `zero-size volume ${describeValue(shape)}`, 'ERR_SHAPE_MISMATCH');
  if (!nativeDtypeOf(data)) {
    throw invalidArg(`${name}.data`, `expected a typed array (${NATIVE_DTYPE_NAMES.join(', ')}), got ${describeValue(data)}`);
  }
  if (opts.float && arrayKind(data) !== 'Float32Array') throw invalidArg(`${name}.data`, `expected a Float32Array, got ${arrayKind(data)}`);
  const n = shape.reduce((a, c) => a * c, 1);
  const len = (data as NativeArray).length;
  if (len !== n) throw invalidArg(`${name}.data`, `has ${len} elements but shape ${describeValue(shape)} needs ${n}`, 'ERR_SHAPE_MISMATCH');
  if (opts.finite && isFloatArray(data)) {
    const bad = firstNonFinite(data);
    if (bad >= 0) throw invalidArg(`${name}.data`, `contains a non-finite value (${(data as Float32Array)[bad]}) at index ${bad}`, 'ERR_NON_FINITE');
  }
}

/** Wraps an error from the addon (a plain Error with a `code`) as a LiversegError. */
export function fromNativeError(e: unknown): LiversegError {
  if (e instanceof LiversegError) return e;
  const err = e as { code?: string; message?: string };
  // A code this version does not know (an addon from another build) still reads as a LibTorch error.
  const code: LiversegErrorCode = (ERROR_CODES as readonly string[]).includes(err?.code ?? '') ? (err.code as LiversegErrorCode) : 'ERR_TORCH';
  return new LiversegError(code, err?.message ?? String(e), { cause: e });
}

/** Awaits a native promise, converting its rejection. */
export async function native<T>(p: Promise<T> | (() => Promise<T>)): Promise<T> {
  try {
    return await (typeof p === 'function' ? p() : p);
  } catch (e) {
    throw fromNativeError(e);
  }
}
