/**
 * A small ONNX graph builder: nodes with generated output names, initializers from typed arrays,
 * and int64 constants. Only what the ResUNet export needs; everything is plain ONNX (default domain).
 */
import * as os from 'os';
import { AttributeProto, AttributeType, DataType, NodeProto, TensorProto } from './proto';

export type AttributeValue = number | string | number[] | { floats: number[] };

/** Little-endian bytes of a typed array (ONNX raw_data is little-endian whatever the machine). */
export function littleEndianBytes(a: Float32Array | BigInt64Array): Uint8Array {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (os.endianness() === 'LE') return bytes;
  const out = new Uint8Array(bytes.length);
  const w = a.BYTES_PER_ELEMENT;
  for (let i = 0; i < bytes.length; i += w) for (let b = 0; b < w; b++) out[i + b] = bytes[i + w - 1 - b];
  return out;
}

function attribute(name: string, v: AttributeValue): AttributeProto {
  if (typeof v === 'string') return { name, type: AttributeType.STRING, s: Buffer.from(v, 'utf8') };
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`ONNX attribute '${name}': ${v} is not an integer (pass { floats } for float attributes)`);
    return { name, type: AttributeType.INT, i: v };
  }
  if (Array.isArray(v)) return { name, type: AttributeType.INTS, ints: v };
  if (v.floats.length === 1) return { name, type: AttributeType.FLOAT, f: v.floats[0] };
  return { name, type: AttributeType.FLOATS, floats: v.floats };
}

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly counts = new Map<string, number>();
  private readonly constants = new Map<string, string>();

  /** A fresh value name starting with `stem`. */
  fresh(stem: string): string {
    const n = this.counts.get(stem) ?? 0;
    this.counts.set(stem, n + 1);
    return n === 0 ? stem : `${stem}_${n}`;
  }

  /** Adds one node; returns its (single) output's name. `name` also names the output. */
  op(opType: string, inputs: string[], name: string, attributes: Record<string, AttributeValue> = {}): string {
    const out = this.fresh(name);
    this.nodes.push({
      op_type: opType,
      name: out,
      input: inputs,
      output: [out],
      attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }

  /** A float32 initializer; returns its name. */
  floatTensor(name: string, dims: number[], data: Float32Array): string {
    const n = dims.reduce((a, b) => a * b, 1);
    if (n !== data.length) throw new Error(`ONNX initializer '${name}': ${data.length} values for shape [${dims.join(', ')}]`);
    this.initializers.push({ name, dims, data_type: DataType.FLOAT, raw_data: littleEndianBytes(data) });
    return name;
  }

  /** A 1-D int64 constant (an initializer, shared by value). */
  int64s(values: number[]): string {
    const key = `i64:${values.join(',')}`;
    const known = this.constants.get(key);
    if (known) return known;
    const name = this.fresh(`const_i64_${values.map((v) => (v < 0 ? `m${-v}` : String(v))).join('_')}`);
    this.initializers.push({ name, dims: [values.length], data_type: DataType.INT64, raw_data: littleEndianBytes(BigInt64Array.from(values.map(BigInt))) });
    this.constants.set(key, name);
    return name;
  }

  /** A 1-D float32 constant (an initializer, shared by value). */
  floats(values: number[]): string {
    const key = `f32:${values.join(',')}`;
    const known = this.constants.get(key);
    if (known) return known;
    const name = this.fresh(`const_f32_${values.length}`);
    this.initializers.push({ name, dims: [values.length], data_type: DataType.FLOAT, raw_data: littleEndianBytes(Float32Array.from(values)) });
    this.constants.set(key, name);
    return name;
  }
}
