/**
 * ONNX export without the addon: the schema compiled from the official onnx.proto, the graph's
 * structure and metadata, refused weights, Debian's python3-onnx checker, and onnxruntime running
 * the file at sizes that are not a multiple of 16.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as protobuf from 'protobufjs';
import { resolveArchitecture } from '../../src/ts/nets/config';
import { decodeModel, ONNX_IR_VERSION, ONNX_OPSET } from '../../src/ts/nets/onnx/proto';
import { encodeResUNetOnnx, expectedWeights, resunetOnnxModel } from '../../src/ts/nets/onnx/resunet-graph';
import { ONNX_SCHEMA } from '../../src/ts/nets/onnx/schema';
import { OnnxResUNet } from '../../src/ts/nets/backends/onnx-net';
import { onnxruntimeAvailability } from '../../src/ts/nets/backends/onnxruntime';
import type { NativeNamedTensor } from '../../src/ts/native/binding';
import { randomWeights } from '../helpers/random-weights';

const PROTO = path.join(__dirname, '..', '..', 'src', 'ts', 'nets', 'onnx', 'onnx.proto');
const SCHEMA_TS = path.join(__dirname, '..', '..', 'src', 'ts', 'nets', 'onnx', 'schema.ts');
const PYTHON = '/usr/bin/python3';

function pythonOnnx(): string | null {
  if (!fs.existsSync(PYTHON)) return `${PYTHON} is missing`;
  const r = spawnSync(PYTHON, ['-c', 'import onnx; print(onnx.__version__)'], { encoding: 'utf8' });
  return r.status === 0 ? null : "Debian's python3-onnx is not installed (apt-get install python3-onnx; scripts/setup.js installs it as root)";
}

describe('ONNX export', () => {
  const arch = resolveArchitecture({ channels: [4, 8, 16], block: 'residual' });
  const weights = randomWeights(arch);

  it('uses a schema compiled from the official onnx.proto, and that compilation is current', () => {
    const compiled = protobuf.parse(fs.readFileSync(PROTO, 'utf8'), { keepCase: true }).root.toJSON();
    if (process.env.LIVERSEG_UPDATE_ONNX_SCHEMA) {
      const text = fs.readFileSync(SCHEMA_TS, 'utf8');
      const head = text.slice(0, text.indexOf('export const ONNX_SCHEMA'));
      fs.writeFileSync(SCHEMA_TS, `${head}export const ONNX_SCHEMA: INamespace = ${JSON.stringify(compiled, null, 2)};\n`);
    }
    expect(JSON.parse(JSON.stringify(ONNX_SCHEMA))).toEqual(compiled);
    expect(fs.readFileSync(PROTO, 'utf8')).toMatch(/IR_VERSION = 0x0000000000000008;/);
  });

  it('writes a model with IR 8, opset 17, dynamic batch and spatial axes, and the liverseg metadata', () => {
    const bytes = encodeResUNetOnnx(arch, weights, { metadata: { 'liverseg.stage': 'fine' }, producerVersion: '9.9.9' });
    const m = decodeModel(bytes);
    expect(m.ir_version).toBe(ONNX_IR_VERSION);
    expect(m.opset_import).toEqual([{ domain: '', version: ONNX_OPSET }]);
    expect(m.producer_name).toBe('liverseg');
    expect(m.producer_version).toBe('9.9.9');
    expect(m.metadata_props).toEqual([{ key: 'liverseg.stage', value: 'fine' }]);
    const g = m.graph;
    expect(g.input.map((i) => i.name)).toEqual(['image']);
    expect(g.output.map((o) => o.name)).toEqual(['logits']);
    expect(g.input[0].type.tensor_type.shape.dim).toEqual([
      { dim_param: 'batch' },
      { dim_value: 1 },
      { dim_param: 'depth' },
      { dim_param: 'height' },
      { dim_param: 'width' },
    ]);
    const ops = new Set(g.node.map((n) => n.op_type));
    expect([...ops].sort()).toEqual([
      'Add',
      'Concat',
      'Conv',
      'MaxPool',
      'Mod',
      'Mul',
      'Pad',
      'Reciprocal',
      'ReduceMean',
      'Relu',
      'Reshape',
      'Resize',
      'Shape',
      'Slice',
      'Sqrt',
      'Sub',
    ]);
    // InstanceNorm as a staged two-pass reduction (W, then H, then D), or as the ONNX operator when asked
    expect(
      g.node
        .filter((n) => n.op_type === 'ReduceMean')
        .map((n) => n.attribute![0].ints)
        .slice(0, 3),
    ).toEqual([[4], [3], [2]]);
    const operator = resunetOnnxModel(arch, weights, { instanceNorm: 'operator' }).graph.node.map((n) => n.op_type);
    expect(operator.filter((o) => o === 'InstanceNormalization')).toHaveLength(3 * (3 + 2)); // three norms per block, five blocks
    expect(operator).not.toContain('ReduceMean');
    // every weight once, as float32 raw data
    const names = new Set(expectedWeights(arch).map((w) => w.name));
    const weightInits = g.initializer.filter((t) => names.has(t.name!));
    expect(weightInits).toHaveLength(names.size);
    for (const t of weightInits) expect(t.data_type).toBe(1);
    const resize = g.node.find((n) => n.op_type === 'Resize')!;
    const attr = Object.fromEntries((resize.attribute ?? []).map((a) => [a.name, Buffer.from(a.s!).toString()]));
    expect(attr).toEqual({ mode: 'linear', coordinate_transformation_mode: 'align_corners' });
  });

  it('writes plain blocks without the residual Add; a two-level network pads to a multiple of 2', () => {
    const plain = resolveArchitecture({ channels: [4, 8], block: 'plain' });
    const nodes = resunetOnnxModel(plain, randomWeights(plain)).graph.node;
    expect(nodes.filter((n) => /^(enc|dec)\d+_add$/.test(n.name!))).toEqual([]);
    expect(nodes.map((n) => n.op_type)).toContain('Pad');
    expect(resunetOnnxModel(arch, weights).graph.node.filter((n) => /^(enc|dec)\d+_add$/.test(n.name!))).toHaveLength(5);
  });

  it('refuses weights that do not fit the architecture, naming the tensor', () => {
    const missing = weights.filter((w) => w.name !== 'dec0.first.conv.bias');
    expect(() => encodeResUNetOnnx(arch, missing)).toThrow(
      expect.objectContaining({ code: 'ERR_MODEL_MISMATCH', message: expect.stringContaining("'dec0.first.conv.bias' is missing") }),
    );
    const wrong = weights.map((w) => (w.name === 'head.weight' ? { ...w, shape: [1, 4, 1, 1, 2], data: new Float32Array(8) } : w));
    expect(() => encodeResUNetOnnx(arch, wrong)).toThrow(/'head.weight' has shape \[1, 4, 1, 1, 2\]/);
    const extra = [...weights, { name: 'enc9.x', shape: [1], data: new Float32Array(1) }];
    expect(() => encodeResUNetOnnx(arch, extra)).toThrow(/unexpected tensor\(s\) enc9.x/);
    const f64 = weights.map((w) => (w.name === 'head.bias' ? { ...w, data: new Float64Array(1) } : w)) as NativeNamedTensor[];
    expect(() => encodeResUNetOnnx(arch, f64)).toThrow(/'head.bias' is Float64Array, expected float32/);
    expect(() => encodeResUNetOnnx(arch, weights, { opset: 12 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
  });

  const noChecker = pythonOnnx();
  (noChecker ? it.skip : it)(`passes Debian's python3-onnx checker (full check, shape inference)${noChecker ? ` [skipped: ${noChecker}]` : ''}`, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'liverseg-onnx-'));
    try {
      for (const [name, a, opset] of [
        ['residual', arch, 17],
        ['plain', resolveArchitecture({ channels: [4, 8, 16, 32], block: 'plain', outChannels: 2 }), 13],
        ['operator', arch, 17],
      ] as const) {
        const file = path.join(dir, `${name}.onnx`);
        fs.writeFileSync(file, encodeResUNetOnnx(a, randomWeights(a), { opset, instanceNorm: name === 'operator' ? 'operator' : 'decomposed' }));
        const script = [
          'import sys, onnx',
          'm = onnx.load(sys.argv[1])',
          'onnx.checker.check_model(m, full_check=True)',
          'out = onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True).graph.output[0]',
          'print([d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim])',
        ].join('\n');
        const r = spawnSync(PYTHON, ['-c', script, file], { encoding: 'utf8' });
        expect({ name, status: r.status, stderr: r.stderr }).toEqual({ name, status: 0, stderr: '' });
        expect(r.stdout.trim()).toBe(`['batch', ${a.outChannels}, 'depth', 'height', 'width']`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  const ort = onnxruntimeAvailability();
  (ort.available ? it : it.skip)('runs in onnxruntime at any size: odd sizes are padded inside the graph and cropped back', async () => {
    const net = await OnnxResUNet.fromWeights(arch, weights, { threads: 1 });
    try {
      for (const shape of [
        [16, 16, 16],
        [13, 7, 9],
        [5, 4, 3],
      ]) {
        const n = shape[0] * shape[1] * shape[2];
        const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));
        const y = await net.forward({ data, shape: [1, 1, shape[0], shape[1], shape[2]] });
        expect(y.shape).toEqual([1, 1, ...shape]);
        expect(y.data.every(Number.isFinite)).toBe(true);
      }
    } finally {
      await net.dispose();
    }
  });
});
