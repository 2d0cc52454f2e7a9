/**
 * The ONNX protobuf messages liverseg writes, typed, and their encoding. The message layout comes
 * from the official schema (onnx.proto beside this file, compiled into schema.ts) through
 * protobufjs's reflection: no byte is packed by hand. Field names are the schema's own
 * (snake_case), so an object here reads like the ONNX IR documentation.
 */
import * as protobuf from 'protobufjs/light';
import { ONNX_SCHEMA } from './schema';

/** IR version 8 (ONNX 1.10 to 1.12): what the schema shipped here defines, and what Debian's python3-onnx 1.12 checks. */
export const ONNX_IR_VERSION = 8;
/** The default opset: 17 is the newest that ONNX 1.12's checker knows; onnxruntime reads 7 to 21 and later. */
export const ONNX_OPSET = 17;
/** The oldest opset the graph can be written for (Resize's `align_corners` and Pad's tensor inputs need 13; Shape's start/end attributes 15 are not used below). */
export const ONNX_MIN_OPSET = 13;

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT64: 7 } as const;
/** AttributeProto.AttributeType values used here. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

export interface TensorProto {
  name?: string;
  dims: number[];
  data_type: number;
  raw_data?: Uint8Array;
  doc_string?: string;
}

export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  floats?: number[];
  ints?: number[];
}

export interface NodeProto {
  input: string[];
  output: string[];
  name?: string;
  op_type: string;
  domain?: string;
  attribute?: AttributeProto[];
  doc_string?: string;
}

/** One axis of a tensor shape: a fixed size, or a named symbolic size. */
export interface DimensionProto {
  dim_value?: number;
  dim_param?: string;
}

export interface ValueInfoProto {
  name: string;
  type: { tensor_type: { elem_type: number; shape: { dim: DimensionProto[] } } };
  doc_string?: string;
}

export interface GraphProto {
  name: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  doc_string?: string;
}

export interface ModelProto {
  ir_version: number;
  opset_import: Array<{ domain: string; version: number }>;
  producer_name: string;
  producer_version: string;
  domain?: string;
  model_version?: number;
  doc_string?: string;
  graph: GraphProto;
  metadata_props?: Array<{ key: string; value: string }>;
}

let modelType: protobuf.Type | undefined;

/** onnx.ModelProto, built once from the schema. */
function modelProto(): protobuf.Type {
  if (!modelType) modelType = protobuf.Root.fromJSON(ONNX_SCHEMA).lookupType('onnx.ModelProto');
  return modelType;
}

/** Encodes a model; a message that does not fit the schema (a wrong field type) throws naming the field. */
export function encodeModel(model: ModelProto): Uint8Array {
  const T = modelProto();
  const problem = T.verify(model);
  if (problem) throw new Error(`ONNX ModelProto does not fit the schema: ${problem}`);
  return T.encode(model).finish();
}

/** Decodes a model file's bytes (int64 fields as numbers, bytes as Uint8Array). */
export function decodeModel(bytes: Uint8Array): ModelProto {
  const T = modelProto();
  const m = T.decode(bytes);
  return T.toObject(m, { longs: Number, arrays: true }) as ModelProto;
}
