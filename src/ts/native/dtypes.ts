/**
 * The typed arrays that cross into LibTorch without a copy, in one table: the element types the
 * addon maps to tensor dtypes (cpp/addon/tensors.cc), with their safetensors names. Every type,
 * guard and conversion about native arrays derives from this table.
 */
import type { VoxelArray } from '../volume';

/** The element types, by constructor name; the table below must list exactly these. */
interface NativeArrayTypes {
  Uint8Array: Uint8Array;
  Int8Array: Int8Array;
  Int16Array: Int16Array;
  Int32Array: Int32Array;
  Float32Array: Float32Array;
  Float64Array: Float64Array;
}

interface NativeDtypeEntry {
  ctor: { new (n: number): NativeArray; BYTES_PER_ELEMENT: number };
  safetensors: 'U8' | 'I8' | 'I16' | 'I32' | 'F32' | 'F64';
}

export const NATIVE_DTYPES: { readonly [K in keyof NativeArrayTypes]: NativeDtypeEntry } = {
  Uint8Array: { ctor: Uint8Array, safetensors: 'U8' },
  Int8Array: { ctor: Int8Array, safetensors: 'I8' },
  Int16Array: { ctor: Int16Array, safetensors: 'I16' },
  Int32Array: { ctor: Int32Array, safetensors: 'I32' },
  Float32Array: { ctor: Float32Array, safetensors: 'F32' },
  Float64Array: { ctor: Float64Array, safetensors: 'F64' },
};

export type NativeDtypeName = keyof NativeArrayTypes;
/** A typed array the addon reads in place. */
export type NativeArray = NativeArrayTypes[NativeDtypeName];
export type NativeSafetensorsDtype = NativeDtypeEntry['safetensors'];

export const NATIVE_DTYPE_NAMES = Object.keys(NATIVE_DTYPES) as NativeDtypeName[];

/** The typed-array kind of a value, by its tag (works across realms, unlike instanceof). */
export function arrayKind(a: unknown): string {
  return Object.prototype.toString.call(a).slice(8, -1);
}

/** The table entry of a native array's type, or undefined for anything else. */
export function nativeDtypeOf(a: unknown): NativeDtypeName | undefined {
  const kind = arrayKind(a);
  return ArrayBuffer.isView(a) && Object.prototype.hasOwnProperty.call(NATIVE_DTYPES, kind) ? (kind as NativeDtypeName) : undefined;
}

export function isNativeArray(a: unknown): a is NativeArray {
  return nativeDtypeOf(a) !== undefined;
}

export function isFloatArray(a: unknown): a is Float32Array | Float64Array {
  const k = nativeDtypeOf(a);
  return k === 'Float32Array' || k === 'Float64Array';
}

/** The native array type stored under a safetensors dtype name, or undefined where the addon has none. */
export function dtypeForSafetensors(dtype: string): NativeDtypeName | undefined {
  return NATIVE_DTYPE_NAMES.find((n) => NATIVE_DTYPES[n].safetensors === dtype);
}

/**
 * Re-wraps an array the addon returned in this realm's constructor (same memory, no copy), so
 * `instanceof Float32Array` holds under jest and vm contexts as it does in plain Node.
 */
export function adopt<T extends NativeArray>(a: T): T {
  const name = nativeDtypeOf(a);
  if (!name) return a;
  const C = NATIVE_DTYPES[name].ctor as unknown as new (b: ArrayBufferLike, o: number, n: number) => T;
  return a instanceof C ? a : new C(a.buffer, a.byteOffset, a.length);
}

/** Voxel data as the addon takes it: native types as they are; uint16 and uint32 (no LibTorch 1.13 dtype) become float32. */
export function toNativeArray(data: VoxelArray): NativeArray {
  return isNativeArray(data) ? data : Float32Array.from(data);
}

/** Elements copied between yields to the event loop. */
const SHARE_CHUNK = 1 << 20;

/**
 * Voxel data in a SharedArrayBuffer, as the addon reads without a copy (a plain ArrayBuffer could
 * be detached mid-call, so the addon copies those, on the JS thread). The copy here runs in
 * chunks with the event loop served between them; data already shared and of a native type is
 * returned as it is. uint16 and uint32 become float32, as in {@link toNativeArray}.
 */
export async function toSharedNativeArray(data: VoxelArray): Promise<NativeArray> {
  if (isNativeArray(data) && data.buffer instanceof SharedArrayBuffer) return data;
  const name = nativeDtypeOf(data) ?? 'Float32Array';
  const C = NATIVE_DTYPES[name].ctor as unknown as new (b: SharedArrayBuffer) => NativeArray;
  const out = new C(new SharedArrayBuffer(data.length * NATIVE_DTYPES[name].ctor.BYTES_PER_ELEMENT));
  for (let start = 0; start < data.length; start += SHARE_CHUNK) {
    const end = Math.min(data.length, start + SHARE_CHUNK);
    out.set(data.subarray(start, end) as never, start);
    if (end < data.length) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return out;
}

/** A zeroed array of `like`'s native type and `n` elements in a SharedArrayBuffer. */
export function sharedLike<T extends NativeArray>(like: T, n: number): T {
  const name = nativeDtypeOf(like) ?? 'Float32Array';
  const C = NATIVE_DTYPES[name].ctor as unknown as new (b: SharedArrayBuffer) => T;
  return new C(new SharedArrayBuffer(n * NATIVE_DTYPES[name].ctor.BYTES_PER_ELEMENT));
}
