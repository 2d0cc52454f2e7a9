/**
 * ONNX export of a trained model: `exportOnnx(model, 'model.onnx')` writes the network as an ONNX
 * graph (nets/onnx/resunet-graph.ts) that onnxruntime, TensorRT, OpenVINO or any ONNX runtime can
 * run; `attachOnnx(bundle)` writes it beside the bundle's safetensors and records it in the bundle,
 * so the onnxruntime engine loads it instead of exporting in memory.
 *
 * The graph takes the intensity-scaled volume; the bundle's window (e.g. [-300, 300] HU to [0, 1],
 * clipped), its stage and input size are in the file's metadata_props under `liverseg.*`, so a
 * runtime outside liverseg can prepare inputs the same way.
 */
import { promises as fsp } from 'fs';
import * as nodePath from 'path';
import { invalidArg, describeValue, LiversegError } from '../errors';
import { readVerified, sha256, writeBytesAtomic, writeContentAddressed, writeJsonAtomic, removeReplaced } from '../io/atomic-write';
import type { ResolvedArchitecture, ResUNetConfig } from '../nets/config';
import { resolveArchitecture } from '../nets/config';
import { encodeResUNetOnnx, ONNX_INPUT, ONNX_OUTPUT, ResUNetOnnxOptions } from '../nets/onnx/resunet-graph';
import { ONNX_IR_VERSION, ONNX_OPSET } from '../nets/onnx/proto';
import { NamedTensor, ResUNet } from '../nets/resunet';
import { packageVersion } from '../util/package';
import { fileInside, ModelBundle, readJsonObject, readModelBundle, validateModelBundle } from '../bundle/format';
import { readBundleWeights } from '../bundle/model-bundle';

/** What can be exported: a bundle JSON path, a loaded model ({ net, bundle }), a ResUNet, or an architecture with its weights. */
export type OnnxExportSource = string | ResUNet | { net: ResUNet; bundle: ModelBundle } | { config: ResUNetConfig; weights: NamedTensor[] };

export interface ExportOnnxOptions {
  /** Opset of the default domain, 13 to 17. Default 17. */
  opset?: number;
}

export interface ExportOnnxResult {
  path: string;
  bytes: number;
  sha256: string;
  irVersion: number;
  opset: number;
  input: string;
  output: string;
  /** The metadata_props written. */
  metadata: Record<string, string>;
}

interface Resolved {
  config: ResolvedArchitecture;
  weights: NamedTensor[];
  bundle?: ModelBundle;
}

async function resolveSource(model: OnnxExportSource): Promise<Resolved> {
  if (typeof model === 'string') {
    const bundle = await readModelBundle(model);
    return { config: bundle.config, weights: await readBundleWeights(model, bundle), bundle };
  }
  if (model instanceof ResUNet) return { config: model.architecture, weights: await model.getWeights() };
  if (model && typeof model === 'object' && 'net' in model && model.net instanceof ResUNet) {
    return { config: model.net.architecture, weights: await model.net.getWeights(), bundle: model.bundle };
  }
  if (model && typeof model === 'object' && 'config' in model && Array.isArray((model as { weights?: unknown }).weights)) {
    return { config: resolveArchitecture(model.config), weights: model.weights };
  }
  throw invalidArg('model', `expected a model bundle path, a ResUNet, a loaded model or { config, weights }, got ${describeValue(model)}`);
}

function metadataOf(r: Resolved): Record<string, string> {
  const m: Record<string, string> = { 'liverseg.version': packageVersion(), 'liverseg.config': JSON.stringify(r.config) };
  const b = r.bundle;
  if (b) {
    m['liverseg.stage'] = b.stage;
    m['liverseg.inputSize'] = JSON.stringify(b.inputSize);
    m['liverseg.intensity'] = JSON.stringify(b.intensity);
    m['liverseg.weightsSha256'] = b.weightsSha256;
    if (b.roiMargin !== undefined) m['liverseg.roiMargin'] = String(b.roiMargin);
    if (b.spacing) m['liverseg.spacing'] = JSON.stringify(b.spacing);
    if (b.validation) m['liverseg.validation'] = JSON.stringify(b.validation);
  }
  return m;
}

function encode(r: Resolved, options: ExportOnnxOptions): { bytes: Uint8Array; metadata: Record<string, string> } {
  const metadata = metadataOf(r);
  const o: ResUNetOnnxOptions = { opset: options.opset ?? ONNX_OPSET, metadata, producerVersion: packageVersion() };
  return { bytes: encodeResUNetOnnx(r.config, r.weights, o), metadata };
}

function result(path: string, bytes: Uint8Array, metadata: Record<string, string>, options: ExportOnnxOptions): ExportOnnxResult {
  return {
    path,
    bytes: bytes.length,
    sha256: sha256(bytes),
    irVersion: ONNX_IR_VERSION,
    opset: options.opset ?? ONNX_OPSET,
    input: ONNX_INPUT,
    output: ONNX_OUTPUT,
    metadata,
  };
}

/**
 * Writes a model as an ONNX file at `path` (atomically).
 * @example
 * await exportOnnx('runs/fine/best.json', 'fine.onnx');
 * // onnxruntime: session.run({ image: new ort.Tensor('float32', scaled, [1, 1, nk, nj, ni]) }) -> { logits }
 */
export async function exportOnnx(model: OnnxExportSource, path: string, options: ExportOnnxOptions = {}): Promise<ExportOnnxResult> {
  if (typeof path !== 'string' || path.length === 0) throw invalidArg('path', `expected a file path, got ${describeValue(path)}`);
  const r = await resolveSource(model);
  const { bytes, metadata } = encode(r, options);
  await fsp.mkdir(nodePath.dirname(nodePath.resolve(path)), { recursive: true });
  await writeBytesAtomic(path, bytes);
  return result(nodePath.resolve(path), bytes, metadata, options);
}

/**
 * Exports a bundle's network beside its weights (`<name>.<hash>.onnx`) and records it in the
 * bundle JSON (`onnx`, `onnxSha256`, `onnxWeightsSha256`); a file attached before is replaced.
 */
export async function attachOnnx(bundlePath: string, options: ExportOnnxOptions = {}): Promise<ExportOnnxResult> {
  const raw = await readJsonObject(bundlePath, 'model bundle');
  const bundle = validateModelBundle(raw, bundlePath);
  const r: Resolved = { config: bundle.config, weights: await readBundleWeights(bundlePath, bundle), bundle };
  const { bytes, metadata } = encode(r, options);
  const dir = nodePath.dirname(nodePath.resolve(bundlePath));
  const stem = nodePath.basename(bundlePath).replace(/\.json$/i, '');
  const file = await writeContentAddressed(dir, stem, '.onnx', bytes);
  const previous = typeof raw.onnx === 'string' ? raw.onnx : undefined;
  await writeJsonAtomic(bundlePath, { ...raw, onnx: file.name, onnxSha256: file.sha256, onnxWeightsSha256: bundle.weightsSha256 });
  if (previous && previous !== file.name) await removeReplaced(dir, [previous], [file.name, bundle.weights]);
  return result(nodePath.join(dir, file.name), bytes, metadata, options);
}

/** Reads a bundle's attached ONNX file (checked against its hash). */
export async function readAttachedOnnx(bundlePath: string): Promise<Uint8Array> {
  const bundle = await readModelBundle(bundlePath);
  if (!bundle.onnx)
    throw new LiversegError('ERR_BUNDLE', `${bundlePath}: carries no ONNX file (run liverseg-export --onnx ${bundlePath} --attach)`, { path: bundlePath });
  return readVerified(fileInside(bundlePath, bundle.onnx, 'onnx'), bundle.onnxSha256, bundlePath);
}
