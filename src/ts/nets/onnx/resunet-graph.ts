/**
 * The 3D ResUNet (cpp/core/nets/resunet3d.cc) as an ONNX graph, built from the network's named
 * weights (ResUNet.getWeights() or a bundle's safetensors): operator for operator the LibTorch
 * forward in inference mode.
 *
 *   input   "image"  float32 [batch, inChannels, depth, height, width]   (all but channels dynamic)
 *   output  "logits" float32 [batch, outChannels, depth, height, width]
 *
 * depth/height/width are a NIfTI volume's k/j/i (a volume's voxel buffer, i fastest, is such a
 * tensor as it is). Any spatial size works: inside the graph the input is padded with zeros at the
 * far end of each axis to a multiple of 2^(levels - 1) (16 for five levels), as the LibTorch forward
 * does, and the logits are cropped back, so a caller never pads. Blocks:
 *   ConvINReLU = Conv(3x3x3, pad 1) -> InstanceNorm(eps 1e-5, affine) -> Relu   (dropout is off in inference)
 *   residual   = Relu(ConvIN(ConvINReLU(x)) + ConvIN_1x1(x));   plain = ConvINReLU(ConvINReLU(x))
 *   down       = MaxPool(2, stride 2);   up = Resize(linear, align_corners, scale 2) then Concat([skip, up])
 *   head       = Conv(1x1x1)
 */
import { describeValue, LiversegError } from '../../errors';
import type { NativeNamedTensor } from '../../native/binding';
import type { ResolvedArchitecture } from '../config';
import { GraphBuilder } from './graph-builder';
import { DataType, encodeModel, ModelProto, ONNX_IR_VERSION, ONNX_MIN_OPSET, ONNX_OPSET, ValueInfoProto } from './proto';

export const ONNX_INPUT = 'image';
export const ONNX_OUTPUT = 'logits';

export interface ResUNetOnnxOptions {
  /** Opset of the default domain, 13 to 17. Default 17. */
  opset?: number;
  /** Name of the graph. Default 'liverseg_resunet3d'. */
  graphName?: string;
  /** Written as the model's metadata_props (e.g. the intensity window a caller must apply first). */
  metadata?: Record<string, string>;
  /** The model's doc_string. */
  docString?: string;
  /** producer_version. Default 'unknown'. */
  producerVersion?: string;
  /**
   * How InstanceNorm is written: 'decomposed' (default): mean and variance by ReduceMean over W,
   * then H, then D, two passes; 'operator': ONNX's InstanceNormalization. onnxruntime's
   * InstanceNormalization (and a one-step ReduceMean) sums a whole channel in float32 in one run, and
   * on a 64x48x32 input with a zero-padded third the first norm is already off by 5e-4 and the logits
   * by 5e-2; the staged reduction keeps them within 1e-4 of LibTorch (tests/native/onnx-engine.test.ts).
   */
  instanceNorm?: 'decomposed' | 'operator';
}

/** Names and shapes (tensor order) of every weight of an architecture, in the network's order. */
export function expectedWeights(a: ResolvedArchitecture): Array<{ name: string; shape: number[] }> {
  const out: Array<{ name: string; shape: number[] }> = [];
  const convNorm = (prefix: string, cin: number, cout: number, k: number) => {
    out.push({ name: `${prefix}.conv.weight`, shape: [cout, cin, k, k, k] }, { name: `${prefix}.conv.bias`, shape: [cout] });
    out.push({ name: `${prefix}.norm.weight`, shape: [cout] }, { name: `${prefix}.norm.bias`, shape: [cout] });
  };
  const block = (prefix: string, cin: number, cout: number) => {
    convNorm(`${prefix}.first`, cin, cout, 3);
    convNorm(`${prefix}.second`, cout, cout, 3);
    if (a.block === 'residual') convNorm(`${prefix}.shortcut`, cin, cout, 1);
  };
  const ch = a.channels;
  ch.forEach((c, l) => block(`enc${l}`, l === 0 ? a.inChannels : ch[l - 1], c));
  for (let l = 0; l + 1 < ch.length; l++) block(`dec${l}`, ch[l] + ch[l + 1], ch[l]);
  out.push({ name: 'head.weight', shape: [a.outChannels, ch[0], 1, 1, 1] }, { name: 'head.bias', shape: [a.outChannels] });
  return out;
}

/** Checks that `weights` are exactly the architecture's float32 tensors; returns them by name. */
function weightsByName(a: ResolvedArchitecture, weights: readonly NativeNamedTensor[]): Map<string, Float32Array> {
  const given = new Map(weights.map((t) => [t.name, t]));
  const out = new Map<string, Float32Array>();
  const mismatch = (problem: string) => new LiversegError('ERR_MODEL_MISMATCH', `ONNX export: the weights do not fit the architecture: ${problem}`);
  for (const { name, shape } of expectedWeights(a)) {
    const t = given.get(name);
    if (!t) throw mismatch(`tensor '${name}' is missing`);
    if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
      throw mismatch(`tensor '${name}' has shape ${describeValue(t.shape)}, expected ${describeValue(shape)}`);
    }
    if (!(t.data instanceof Float32Array) && t.data?.constructor?.name !== 'Float32Array')
      throw mismatch(`tensor '${name}' is ${t.data?.constructor?.name}, expected float32`);
    out.set(name, t.data as Float32Array);
    given.delete(name);
  }
  if (given.size > 0) throw mismatch(`unexpected tensor(s) ${[...given.keys()].slice(0, 5).join(', ')}`);
  return out;
}

function tensorInfo(name: string, channels: number, doc: string): ValueInfoProto {
  return {
    name,
    doc_string: doc,
    type: {
      tensor_type: {
        elem_type: DataType.FLOAT,
        shape: { dim: [{ dim_param: 'batch' }, { dim_value: channels }, { dim_param: 'depth' }, { dim_param: 'height' }, { dim_param: 'width' }] },
      },
    },
  };
}

/** The network as an ONNX ModelProto (the message; {@link encodeResUNetOnnx} gives the file's bytes). */
export function resunetOnnxModel(a: ResolvedArchitecture, weights: readonly NativeNamedTensor[], options: ResUNetOnnxOptions = {}): ModelProto {
  const opset = options.opset ?? ONNX_OPSET;
  if (!Number.isInteger(opset) || opset < ONNX_MIN_OPSET || opset > ONNX_OPSET) {
    throw new LiversegError(
      'ERR_INVALID_ARG',
      `Invalid argument 'opset': expected an integer from ${ONNX_MIN_OPSET} to ${ONNX_OPSET}, got ${describeValue(opset)}`,
    );
  }
  const instanceNorm = options.instanceNorm ?? 'decomposed';
  if (instanceNorm !== 'decomposed' && instanceNorm !== 'operator') {
    throw new LiversegError('ERR_INVALID_ARG', `Invalid argument 'instanceNorm': expected 'decomposed' or 'operator', got ${describeValue(instanceNorm)}`);
  }
  const w = weightsByName(a, weights);
  const g = new GraphBuilder();
  const init = (name: string, shape: number[]) => g.floatTensor(name, shape, w.get(name)!);
  const shapes = new Map(expectedWeights(a).map((e) => [e.name, e.shape]));
  const param = (name: string) => init(name, shapes.get(name)!);

  const convNorm = (x: string, prefix: string, kernel: number, relu: boolean): string => {
    const p = kernel >> 1;
    const stem = prefix.replace(/\./g, '_');
    let y = g.op('Conv', [x, param(`${prefix}.conv.weight`), param(`${prefix}.conv.bias`)], `${stem}_conv`, {
      kernel_shape: [kernel, kernel, kernel],
      pads: [p, p, p, p, p, p],
      strides: [1, 1, 1],
      dilations: [1, 1, 1],
      group: 1,
    });
    if (instanceNorm === 'operator') {
      y = g.op('InstanceNormalization', [y, param(`${prefix}.norm.weight`), param(`${prefix}.norm.bias`)], `${stem}_norm`, { epsilon: { floats: [1e-5] } });
    } else {
      const c = shapes.get(`${prefix}.norm.weight`)![0];
      const staged = (x: string, name: string) => {
        const w = g.op('ReduceMean', [x], `${name}_w`, { axes: [4], keepdims: 1 });
        const h = g.op('ReduceMean', [w], `${name}_h`, { axes: [3], keepdims: 1 });
        return g.op('ReduceMean', [h], name, { axes: [2], keepdims: 1 });
      };
      const mean = staged(y, `${stem}_mean`);
      const d = g.op('Sub', [y, mean], `${stem}_centred`);
      const v = staged(g.op('Mul', [d, d], `${stem}_sq`), `${stem}_var`);
      const inv = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [v, g.floats([1e-5])], `${stem}_vareps`)], `${stem}_std`)], `${stem}_invstd`);
      const sc = g.op('Reshape', [param(`${prefix}.norm.weight`), g.int64s([1, c, 1, 1, 1])], `${stem}_scale`);
      const bi = g.op('Reshape', [param(`${prefix}.norm.bias`), g.int64s([1, c, 1, 1, 1])], `${stem}_shift`);
      y = g.op('Add', [g.op('Mul', [d, g.op('Mul', [inv, sc], `${stem}_gain`)], `${stem}_scaled`), bi], `${stem}_norm`);
    }
    return relu ? g.op('Relu', [y], `${stem}_relu`) : y;
  };
  const block = (x: string, prefix: string): string => {
    const y = convNorm(x, `${prefix}.first`, 3, true);
    if (a.block !== 'residual') return convNorm(y, `${prefix}.second`, 3, true);
    const z = convNorm(y, `${prefix}.second`, 3, false);
    const s = convNorm(x, `${prefix}.shortcut`, 1, false);
    return g.op('Relu', [g.op('Add', [z, s], `${prefix}_add`)], `${prefix}_out`);
  };

  const levels = a.channels.length;
  const m = 2 ** (levels - 1);
  let x = ONNX_INPUT;
  // Pad at the far end to a multiple of m: pads = [0 x 5 (begins), 0, 0, (m - d % m) % m, ...].
  let spatial = '';
  if (m > 1) {
    const shape = g.op('Shape', [ONNX_INPUT], 'input_shape');
    spatial = g.op('Slice', [shape, g.int64s([2]), g.int64s([5]), g.int64s([0])], 'input_spatial');
    const mm = g.int64s([m]);
    const rem = g.op('Mod', [spatial, mm], 'size_mod');
    const pad = g.op('Mod', [g.op('Sub', [mm, rem], 'size_to_next'), mm], 'pad_after');
    const pads = g.op('Concat', [g.int64s([0, 0, 0, 0, 0, 0, 0]), pad], 'pads', { axis: 0 });
    x = g.op('Pad', [x, pads], 'padded', { mode: 'constant' });
  }
  const skips: string[] = [];
  for (let l = 0; l < levels; l++) {
    if (l > 0) x = g.op('MaxPool', [x], `down${l}`, { kernel_shape: [2, 2, 2], strides: [2, 2, 2] });
    x = block(x, `enc${l}`);
    skips.push(x);
  }
  const scales = g.floats([1, 1, 2, 2, 2]);
  for (let l = levels - 2; l >= 0; l--) {
    const up = g.op('Resize', [x, '', scales], `up${l}`, { mode: 'linear', coordinate_transformation_mode: 'align_corners' });
    x = g.op('Concat', [skips[l], up], `cat${l}`, { axis: 1 });
    x = block(x, `dec${l}`);
  }
  x = g.op('Conv', [x, param('head.weight'), param('head.bias')], m > 1 ? 'head' : ONNX_OUTPUT, {
    kernel_shape: [1, 1, 1],
    pads: [0, 0, 0, 0, 0, 0],
    strides: [1, 1, 1],
    dilations: [1, 1, 1],
    group: 1,
  });
  if (m > 1) x = g.op('Slice', [x, g.int64s([0, 0, 0]), spatial, g.int64s([2, 3, 4])], ONNX_OUTPUT);
  if (x !== ONNX_OUTPUT) throw new Error(`ONNX export: output named ${x}`);

  return {
    ir_version: ONNX_IR_VERSION,
    opset_import: [{ domain: '', version: opset }],
    producer_name: 'liverseg',
    producer_version: options.producerVersion ?? 'unknown',
    domain: 'org.liverseg',
    model_version: 1,
    doc_string:
      options.docString ??
      `liverseg 3D ResUNet (${a.block}, channels ${a.channels.join('-')}). Input: a [batch, ${a.inChannels}, depth, height, width] float32 volume ` +
        `already intensity-scaled; any spatial size (padded inside the graph to a multiple of ${m} and cropped back). Output: logits (sigmoid >= 0.5 is the mask).`,
    graph: {
      name: options.graphName ?? 'liverseg_resunet3d',
      node: g.nodes,
      initializer: g.initializers,
      input: [tensorInfo(ONNX_INPUT, a.inChannels, 'intensity-scaled volume; depth, height, width = a NIfTI volume\u2019s k, j, i')],
      output: [tensorInfo(ONNX_OUTPUT, a.outChannels, 'logits, one channel per class')],
    },
    metadata_props: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
}

/** The network as ONNX file bytes. */
export function encodeResUNetOnnx(a: ResolvedArchitecture, weights: readonly NativeNamedTensor[], options: ResUNetOnnxOptions = {}): Uint8Array {
  return encodeModel(resunetOnnxModel(a, weights, options));
}
