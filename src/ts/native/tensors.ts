/**
 * Crossing the boundary: public batches are in NIfTI order ([B, C, ni, nj, nk], i fastest), the
 * addon speaks tensor order ([B, C, nk, nj, ni]). The memory layout is the same, so only the
 * shape list is reversed; no voxel is copied.
 */
import { LiversegError, describeValue, invalidArg } from '../errors';
import type { NativeArray, NativeTensor } from './binding';

export type Size3 = [number, number, number];

/** A batch of volumes in NIfTI order: `shape` = [batch, channels, ni, nj, nk], i fastest in `data`. */
export interface Batch<T extends NativeArray = NativeArray> {
  data: T;
  shape: [number, number, number, number, number];
}

export function reverse3(s: readonly number[]): Size3 {
  return [s[2], s[1], s[0]];
}

/** The typed-array kind of a value, by tag (works across realms). */
export function arrayKind(a: unknown): string {
  return Object.prototype.toString.call(a).slice(8, -1);
}

const LOCAL: Record<string, new (b: ArrayBufferLike, o: number, n: number) => NativeArray> = {
  Uint8Array,
  Int8Array,
  Int16Array,
  Int32Array,
  Float32Array,
  Float64Array,
};

/**
 * Re-wraps an array the addon returned in this realm's constructor (same memory, no copy), so
 * `instanceof Float32Array` holds under jest and vm contexts as it does in plain Node.
 */
export function adopt<T extends NativeArray>(a: T): T {
  const C = LOCAL[arrayKind(a)];
  if (!C || a instanceof C) return a;
  return new C(a.buffer, a.byteOffset, a.length) as T;
}

export function toNativeBatch<T extends NativeArray>(b: Batch<T>): NativeTensor<T> {
  return { data: b.data, shape: [b.shape[0], b.shape[1], b.shape[4], b.shape[3], b.shape[2]] };
}

export function fromNativeBatch<T extends NativeArray>(t: NativeTensor<T>): Batch<T> {
  const s = t.shape;
  return { data: adopt(t.data), shape: [s[0], s[1], s[4], s[3], s[2]] };
}

const SUPPORTED = ['Uint8Array', 'Int8Array', 'Int16Array', 'Int32Array', 'Float32Array', 'Float64Array'];

/** Checks a batch before it goes native; names the argument and what is wrong. */
export function assertBatch(b: unknown, name: string, opts: { float?: boolean; finite?: boolean } = {}): asserts b is Batch {
  if (b === null || typeof b !== 'object') throw invalidArg(name, `expected { data, shape }, got ${describeValue(b)}`);
  const { data, shape } = b as Partial<Batch>;
  if (!Array.isArray(shape) || shape.length !== 5 || !shape.every((s) => Number.isInteger(s) && s >= 0)) {
    throw invalidArg(`${name}.shape`, `expected [batch, channels, ni, nj, nk] (5 non-negative integers), got ${describeValue(shape)}`, 'ERR_SHAPE_MISMATCH');
  }
  if (shape.some((s) => s === 0)) throw invalidArg(`${name}.shape`, `zero-size volume ${describeValue(shape)}`, 'ERR_SHAPE_MISMATCH');
  if (!ArrayBuffer.isView(data) || !SUPPORTED.includes(arrayKind(data))) {
    throw invalidArg(`${name}.data`, `expected a typed array (${SUPPORTED.join(', ')}), got ${describeValue(data)}`);
  }
  if (opts.float && arrayKind(data) !== 'Float32Array') throw invalidArg(`${name}.data`, `expected a Float32Array, got ${arrayKind(data)}`);
  const n = shape.reduce((a, c) => a * c, 1);
  const len = (data as NativeArray).length;
  if (len !== n) throw invalidArg(`${name}.data`, `has ${len} elements but shape ${describeValue(shape)} needs ${n}`, 'ERR_SHAPE_MISMATCH');
  const kind = arrayKind(data);
  if (opts.finite && (kind === 'Float32Array' || kind === 'Float64Array')) {
    const bad = firstNonFinite(data as Float32Array);
    if (bad >= 0) throw invalidArg(`${name}.data`, `contains a non-finite value (${(data as Float32Array)[bad]}) at index ${bad}`, 'ERR_NON_FINITE');
  }
}

export function firstNonFinite(a: Float32Array | Float64Array): number {
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    // v - v is NaN for both NaN and +/-Infinity and 0 otherwise: one comparison per voxel.
    if (v - v !== 0) return i;
  }
  return -1;
}

/** Wraps an error from the addon (a plain Error with a `code`) as a LiversegError. */
export function fromNativeError(e: unknown): LiversegError {
  if (e instanceof LiversegError) return e;
  const err = e as { code?: string; message?: string };
  const code = (err?.code ?? 'ERR_TORCH') as LiversegError['code'];
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
