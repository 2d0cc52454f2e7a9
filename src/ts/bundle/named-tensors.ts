/** Named tensors (weights, optimizer state) as safetensors bytes, and back. */
import { LiversegError, fileError } from '../errors';
import { decodeSafetensors, encodeSafetensors, readSafetensors, SafetensorsTensor } from '../io/safetensors';
import { dtypeForSafetensors, NATIVE_DTYPES, nativeDtypeOf } from '../native/dtypes';
import type { NamedTensor } from '../nets/resunet';

/** Named tensors as safetensors bytes. */
export function encodeNamedTensors(tensors: NamedTensor[], metadata?: Record<string, string>): Buffer {
  const record: Record<string, SafetensorsTensor> = {};
  for (const t of tensors) {
    const kind = nativeDtypeOf(t.data);
    if (!kind) throw new LiversegError('ERR_SAFETENSORS', `Tensor '${t.name}' has an unsupported type ${t.data?.constructor?.name}`);
    record[t.name] = { dtype: NATIVE_DTYPES[kind].safetensors, shape: t.shape, data: t.data };
  }
  return encodeSafetensors(record, metadata);
}

/** Reads named tensors back from a safetensors file (in stored order); `bytes` when already read. */
export async function readNamedTensors(path: string, bytes?: Uint8Array): Promise<{ tensors: NamedTensor[]; metadata: Record<string, string> }> {
  const file = bytes ? decodeSafetensors(bytes, path) : await readSafetensors(path);
  const tensors: NamedTensor[] = [];
  for (const [name, t] of Object.entries(file.tensors)) {
    if (!dtypeForSafetensors(t.dtype)) throw fileError('ERR_BUNDLE', path, `tensor '${name}' has dtype ${t.dtype}, which liverseg does not load`);
    tensors.push({ name, shape: t.shape, data: t.data as NamedTensor['data'] });
  }
  return { tensors, metadata: file.metadata };
}
