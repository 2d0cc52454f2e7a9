#!/usr/bin/env node
/**
 * `liverseg-export`: a trained model as an ONNX file.
 *   liverseg-export --onnx model.json -o model.onnx
 *   liverseg-export --onnx model.json --attach          (beside the bundle's weights, recorded in it)
 *   liverseg-export --onnx pipeline.json -o onnx/       (coarse.onnx and fine.onnx)
 */
import { promises as fsp } from 'fs';
import * as nodePath from 'path';
import { parseArgs } from 'util';
import { bundleKind, readPipeline } from '../bundle';
import { attachOnnx, ExportOnnxResult, exportOnnx } from '../inferers/export-onnx';
import { ONNX_MIN_OPSET, ONNX_OPSET } from '../nets/onnx/proto';
import { runCli, UsageError } from './run';

const USAGE = `Usage: liverseg-export --onnx MODEL.json (-o OUTPUT | --attach) [--opset N]

Exports a trained model (a bundle JSON, or a pipeline JSON's two bundles) as ONNX: any ONNX runtime
(onnxruntime, TensorRT, OpenVINO) can then run it. The graph's input "image" is a float32
[batch, 1, depth, height, width] volume (depth/height/width = a NIfTI volume's k/j/i) already scaled by the
bundle's intensity window; its output "logits" has the same size (sigmoid >= 0.5 is the liver). Any size
works: the graph pads to a multiple of 16 inside and crops back. The window, stage and input size are in
the file's metadata (liverseg.intensity, liverseg.stage, liverseg.inputSize).

Options:
  --onnx MODEL.json   the bundle or pipeline to export (required)
  -o, --output PATH   the .onnx file (a bundle), or a folder (a pipeline: coarse.onnx, fine.onnx)
  --attach            write it beside the bundle's weights and record it in the bundle JSON, so
                      liverseg's onnxruntime engine loads it instead of exporting in memory
  --opset N           ONNX opset, ${ONNX_MIN_OPSET} to ${ONNX_OPSET} (default ${ONNX_OPSET})
  -h, --help          this text`;

function line(what: string, r: ExportOnnxResult): string {
  return `${what}: ${r.path} (${(r.bytes / 2 ** 20).toFixed(1)} MiB, IR ${r.irVersion}, opset ${r.opset}, sha256 ${r.sha256.slice(0, 12)})`;
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      onnx: { type: 'string' },
      output: { type: 'string', short: 'o' },
      attach: { type: 'boolean' },
      opset: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (!values.onnx) throw new UsageError('--onnx MODEL.json is required');
  if (!values.output === !values.attach) throw new UsageError('give either -o/--output or --attach');
  const opset = values.opset === undefined ? ONNX_OPSET : Number(values.opset);
  if (!Number.isInteger(opset) || opset < ONNX_MIN_OPSET || opset > ONNX_OPSET)
    throw new UsageError(`--opset must be an integer from ${ONNX_MIN_OPSET} to ${ONNX_OPSET}`);
  const model = values.onnx;
  const options = { opset };
  if ((await bundleKind(model)) === 'model') {
    const r = values.attach ? await attachOnnx(model, options) : await exportOnnx(model, values.output!, options);
    process.stdout.write(line(values.attach ? 'attached' : 'wrote', r) + '\n');
    return 0;
  }
  const p = await readPipeline(model);
  for (const [stage, bundle] of [
    ['coarse', p.coarsePath],
    ['fine', p.finePath],
  ] as const) {
    let r: ExportOnnxResult;
    if (values.attach) {
      r = await attachOnnx(bundle, options);
    } else {
      await fsp.mkdir(values.output!, { recursive: true });
      r = await exportOnnx(bundle, nodePath.join(values.output!, `${stage}.onnx`), options);
    }
    process.stdout.write(line(`${stage} ${values.attach ? 'attached' : 'wrote'}`, r) + '\n');
  }
  return 0;
}

if (require.main === module) runCli('liverseg-export', main);
