/**
 * SharedArrayBuffer-backed copies of samples: a cached sample placed in shared memory can be posted
 * to worker threads, which then read it in place instead of receiving a copy.
 */
import type { Volume, VoxelArray } from '../volume';
import type { Sample, TransformOutput } from '../transforms/types';

type Ctor = new (buf: ArrayBufferLike, byteOffset: number, length: number) => VoxelArray;

/** True when `a` is a view over a SharedArrayBuffer. */
export function isShared(a: ArrayBufferView): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && a.buffer instanceof SharedArrayBuffer;
}

/** A copy of `a` in a new SharedArrayBuffer (or `a` itself when it already is shared). */
export function toShared<T extends VoxelArray>(a: T): T {
  if (isShared(a)) return a;
  const out = new (a.constructor as Ctor)(new SharedArrayBuffer(a.byteLength), 0, a.length) as T;
  out.set(a as never);
  return out;
}

/** True for a value shaped like a Volume (a typed array `data` and a `shape`). */
export function isVolumeLike(v: unknown): v is Volume {
  return v !== null && typeof v === 'object' && ArrayBuffer.isView((v as Volume).data) && Array.isArray((v as Volume).shape);
}

/**
 * The sample(s) with every volume's data moved to shared memory. Arrays used by several keys stay
 * shared between them. Returns the copies and the bytes they hold.
 */
export function shareOutput(out: TransformOutput): { output: TransformOutput; bytes: number } {
  const seen = new Map<VoxelArray, VoxelArray>();
  let bytes = 0;
  const one = (s: Sample): Sample => {
    const r: Sample = { ...s };
    for (const [k, v] of Object.entries(s)) {
      if (!isVolumeLike(v)) continue;
      let d = seen.get(v.data);
      if (!d) {
        d = toShared(v.data);
        seen.set(v.data, d);
        bytes += d.byteLength;
      }
      r[k] = { ...v, data: d };
    }
    return r;
  };
  return { output: Array.isArray(out) ? out.map(one) : one(out), bytes };
}
