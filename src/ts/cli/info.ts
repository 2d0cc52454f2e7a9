#!/usr/bin/env node
/** `liverseg-info`: the backend (LibTorch, CUDA, threads), what a model bundle or pipeline is, or the series in a DICOM folder. */
import { promises as fsp } from 'fs';
import { parseArgs } from 'util';
import { listDicomSeries } from '../io/dicom/series';
import { isPart10 } from '../io/dicom/parse';
import { isZip } from '../io/dicom/zip';
import { bundleKind, readModelBundle, readPipeline } from '../bundle';
import { parameterCount } from '../nets/config';
import { backend } from '../native/loader';
import { runCli } from './run';

const USAGE = `Usage: liverseg-info [MODEL.json | DICOM-FOLDER | DICOM.zip]

Without an argument: prints the native backend (LibTorch version, CUDA, threads) as JSON.
With a model bundle or pipeline JSON: prints what it is (stage, architecture, parameters, intensity window,
input size, validation score, how it was trained).
With a DICOM folder (searched recursively), a .zip or a DICOM file: lists the series found (key, modality,
description, slices, size, plane, transfer syntaxes, files left out and why), which one liverseg-segment would
read by default, and the files skipped as not DICOM images.`;

/** A folder, a zip or a DICOM file (not a JSON). */
async function isDicomPath(path: string): Promise<boolean> {
  const st = await fsp.stat(path).catch(() => null);
  if (!st) return false;
  if (st.isDirectory()) return true;
  if (!st.isFile()) return false;
  const fh = await fsp.open(path, 'r');
  try {
    const head = Buffer.alloc(132);
    const { bytesRead } = await fh.read(head, 0, 132, 0);
    return isZip(head.subarray(0, bytesRead)) || isPart10(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (positionals.length === 0) {
    process.stdout.write(JSON.stringify(backend(), null, 2) + '\n');
    return 0;
  }
  const path = positionals[0];
  if (await isDicomPath(path)) {
    const inv = await listDicomSeries(path);
    process.stdout.write(JSON.stringify({ kind: 'dicom', defaultSeries: inv.defaultKey, series: inv.series, skipped: inv.skipped }, null, 2) + '\n');
    return 0;
  }
  if ((await bundleKind(path)) === 'pipeline') {
    const p = await readPipeline(path);
    const coarse = await readModelBundle(p.coarsePath);
    const fine = await readModelBundle(p.finePath);
    process.stdout.write(
      JSON.stringify({ kind: 'pipeline', margin: p.margin, coarse: { path: p.coarsePath, ...coarse }, fine: { path: p.finePath, ...fine } }, null, 2) + '\n',
    );
    return 0;
  }
  const b = await readModelBundle(path);
  process.stdout.write(JSON.stringify({ kind: 'model', parameters: parameterCount(b.config), ...b }, null, 2) + '\n');
  return 0;
}

if (require.main === module) runCli('liverseg-info', main);
