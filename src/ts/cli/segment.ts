#!/usr/bin/env node
/**
 * `liverseg-segment`: CT file(s) in, liver mask file(s) out.
 *   liverseg-segment -m pipeline.json ct.nii.gz -o liver.nii.gz
 *   liverseg-segment -m pipeline.json cts/ -o masks/ [--labels labels/]
 *   liverseg-segment -m pipeline.json dicom-folder/ -o out/ --format seg,nifti --stats out/stats.json --preview out/preview.png
 */
import { promises as fsp } from 'fs';
import * as nodePath from 'path';
import { parseArgs } from 'util';
import { loadVolume } from '../io/nifti-read';
import { saveVolume } from '../io/nifti-write';
import { writeBytesAtomic, writeJsonAtomic } from '../io/atomic-write';
import { checkSegReference, saveDicomSeg } from '../io/dicom/seg-write';
import { isPart10 } from '../io/dicom/parse';
import { isZip } from '../io/dicom/zip';
import { maskDice } from '../metrics/dice';
import { liverStats } from '../metrics/liver-stats';
import { loadPipeline } from '../inferers/pipeline';
import { renderPreview } from '../inferers/preview';
import { segment, SegmentOptions } from '../inferers/segment';
import { runCli, UsageError } from './run';

const USAGE = `Usage: liverseg-segment -m MODEL INPUT -o OUTPUT [options]

Segments the liver in CT volumes: NIfTI (.nii, .nii.gz) or DICOM. MODEL is a pipeline JSON (coarse + fine) or a
single model bundle. INPUT is a NIfTI file (OUTPUT a file), a folder of NIfTI files (OUTPUT a folder; one mask
per CT, same name), or one DICOM series: a folder of DICOM files (searched recursively), a .zip or a DICOM file
(OUTPUT a folder receiving NAME.nii.gz and/or NAME.seg.dcm, NAME being the input's name; or a file when one
format is asked for). Masks are uint8 (1 = liver) in the CT's exact geometry; a DICOM SEG refers to the CT's
series and slices, which must have their UIDs.

Options:
  -m, --model FILE          pipeline.json or a model bundle JSON (required)
  -o, --output PATH         output file or folder (required)
  --labels DIR              also print each case's Dice against DIR/<same name>, and the mean
  --device D                auto | cpu | cuda | cuda:N (default: LIVERSEG_DEVICE or auto)
  --engine E                auto | libtorch | onnxruntime (default: LIVERSEG_ENGINE or auto: LibTorch on CUDA,
                            onnxruntime-node on the CPU when installed and whenever the addon cannot load)
  --fine-mode M             windows | whole | auto: the fine stage by sliding windows, or one pass over the whole
                            region when it fits --max-voxels-per-pass (auto: where that saves work; default windows)
  --max-voxels-per-pass N   the largest padded region one whole pass covers (default: about 4 GiB of memory)
  --overlap X               sliding-window overlap in [0, 1) (default 0.25)
  --windows-per-batch N     windows per forward pass (default 1 on the CPU, 4 on CUDA)
  --mirror                  test-time mirroring (8 passes per window)
  --no-largest              keep every component, not only the largest
  --format LIST             nifti, seg or seg,nifti (default nifti; seg needs a DICOM input)
  --stats FILE.json         liver volume (ml), HU statistics, bounding box, centroid and the scan faces it touches
  --preview FILE.png        a picture: axial, coronal and sagittal slices through the liver and an axial montage
  --series UID              the DICOM series to read (a SeriesInstanceUID or a key from liverseg-info; default:
                            the CT series with the most slices)
  --resample                resample DICOM slices with a gantry tilt or uneven spacing instead of refusing them
  -h, --help                this text`;

const NIFTI = /\.nii(\.gz)?$/i;

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string', short: 'm' },
      output: { type: 'string', short: 'o' },
      labels: { type: 'string' },
      device: { type: 'string' },
      engine: { type: 'string' },
      'fine-mode': { type: 'string' },
      'max-voxels-per-pass': { type: 'string' },
      overlap: { type: 'string' },
      'windows-per-batch': { type: 'string' },
      mirror: { type: 'boolean' },
      'no-largest': { type: 'boolean' },
      format: { type: 'string' },
      stats: { type: 'string' },
      preview: { type: 'string' },
      series: { type: 'string' },
      resample: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (!values.model) throw new UsageError('-m/--model is required');
  if (!values.output) throw new UsageError('-o/--output is required');
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'an input file or folder is required' : 'give one input file or folder');
  const overlap = values.overlap === undefined ? undefined : Number(values.overlap);
  const wpb = values['windows-per-batch'] === undefined ? undefined : Number(values['windows-per-batch']);
  const engine = values.engine as SegmentOptions['engine'];
  if (engine !== undefined && !['auto', 'libtorch', 'onnxruntime'].includes(engine))
    throw new UsageError(`--engine: expected auto, libtorch or onnxruntime, got '${engine}'`);
  const fineMode = values['fine-mode'] as SegmentOptions['fineMode'];
  if (fineMode !== undefined && !['windows', 'whole', 'auto'].includes(fineMode))
    throw new UsageError(`--fine-mode: expected windows, whole or auto, got '${fineMode}'`);
  const maxVoxelsPerPass = values['max-voxels-per-pass'] === undefined ? undefined : Number(values['max-voxels-per-pass']);
  const input = positionals[0];
  let stat;
  try {
    stat = await fsp.stat(input);
  } catch {
    throw new UsageError(`${input}: no such file or folder`);
  }
  const formats = (values.format ?? 'nifti').split(',').map((f) => f.trim().toLowerCase());
  if (formats.length === 0 || formats.some((f) => f !== 'nifti' && f !== 'seg'))
    throw new UsageError(`--format: expected nifti, seg or seg,nifti, got '${values.format}'`);
  const jobs: Array<{ name: string; input: string; output: string; seg?: string }> = [];
  const dicom = await isDicomInput(input, stat);
  if (dicom) {
    // One DICOM series: OUTPUT is a folder, or a file when a single format is asked for.
    const name = nodePath.basename(input).replace(/\.zip$/i, '') || 'series';
    const out = values.output;
    const single = formats.length === 1 && (formats[0] === 'seg' ? /\.dcm$/i.test(out) : NIFTI.test(out));
    if (!single) await fsp.mkdir(out, { recursive: true });
    jobs.push({
      name,
      input,
      output: formats.includes('nifti') ? (single ? out : nodePath.join(out, `${name}.nii.gz`)) : '',
      seg: formats.includes('seg') ? (single ? out : nodePath.join(out, `${name}.seg.dcm`)) : undefined,
    });
  } else {
    if (formats.includes('seg')) throw new UsageError('--format seg needs a DICOM input (a folder of DICOM files, a .zip or a DICOM file)');
    if (stat.isDirectory()) {
      const files = (await fsp.readdir(input)).filter((f) => NIFTI.test(f)).sort();
      if (files.length === 0) throw new UsageError(`${input}: no .nii or .nii.gz files`);
      await fsp.mkdir(values.output, { recursive: true });
      for (const f of files) jobs.push({ name: f, input: nodePath.join(input, f), output: nodePath.join(values.output, f) });
    } else {
      jobs.push({ name: nodePath.basename(input), input, output: values.output });
    }
  }
  if (values.preview && jobs.length !== 1) throw new UsageError('--preview takes a single input (one CT), not a folder of them');
  const readOptions = { seriesUid: values.series, resample: values.resample ?? false };
  const pipeline = await loadPipeline(values.model, { device: values.device, engine });
  const allStats: Array<Record<string, unknown>> = [];
  const scores: number[] = [];
  let failed = 0;
  for (const [n, job] of jobs.entries()) {
    const t0 = Date.now();
    try {
      const ct = await loadVolume(job.input, readOptions);
      // A SEG that cannot be written is known before the model runs: refuse it now.
      if (job.seg) checkSegReference(ct.dicom);
      const mask = await segment(ct, {
        model: pipeline,
        overlap,
        windowsPerBatch: wpb,
        fineMode,
        maxVoxelsPerPass,
        mirror: values.mirror ?? false,
        keepLargestComponent: !values['no-largest'],
      });
      const written: string[] = [];
      if (job.output) {
        await saveVolume(job.output, mask);
        written.push(job.output);
      }
      if (job.seg) {
        await saveDicomSeg(job.seg, mask, { reference: ct, model: { name: nodePath.basename(values.model) } });
        written.push(job.seg);
      }
      if (values.stats) allStats.push({ case: job.name, input: job.input, shape: ct.shape, spacing: ct.spacing, ...liverStats(mask, ct) });
      if (values.preview) {
        await writeBytesAtomic(values.preview, await renderPreview(ct, mask));
        written.push(values.preview);
      }
      let line = `[${n + 1}/${jobs.length}] ${job.name}: ${(Date.now() - t0) / 1000}s (coarse ${(mask.timings.coarse / 1000).toFixed(2)}s, fine ${(mask.timings.fine / 1000).toFixed(2)}s)${mask.liverFound ? '' : ' no liver found'} -> ${written.join(', ')}`;
      if (values.labels) {
        const label = await loadVolume(nodePath.join(values.labels, job.name));
        const d = maskDice(mask.data, label.data);
        scores.push(d);
        line += ` Dice ${Number.isNaN(d) ? 'n/a (empty label)' : d.toFixed(4)}`;
      }
      process.stdout.write(line + '\n');
    } catch (e) {
      if (jobs.length === 1) throw e;
      failed++;
      process.stderr.write(`[${n + 1}/${jobs.length}] ${job.name}: failed: ${(e as Error).message.split('\n')[0]}\n`);
    }
  }
  if (values.stats) {
    // One CT: its statistics; a folder of NIfTI files: one entry per case.
    await writeJsonAtomic(values.stats, dicom || !stat.isDirectory() ? (allStats[0] ?? {}) : allStats);
  }
  if (values.labels) {
    const finite = scores.filter(Number.isFinite);
    const mean = finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : NaN;
    process.stdout.write(`mean Dice over ${finite.length} case(s): ${Number.isNaN(mean) ? 'n/a' : mean.toFixed(4)}\n`);
  }
  return failed > 0 ? 1 : 0;
}

/** A DICOM input: a .zip or DICOM file, or a folder without NIfTI files at its top (DICOM files in it or below). */
async function isDicomInput(input: string, stat: { isDirectory(): boolean; isFile(): boolean }): Promise<boolean> {
  if (stat.isDirectory()) return !(await fsp.readdir(input)).some((f) => NIFTI.test(f));
  if (NIFTI.test(input) || !stat.isFile()) return false;
  const fh = await fsp.open(input, 'r');
  try {
    const head = Buffer.alloc(132);
    const { bytesRead } = await fh.read(head, 0, 132, 0);
    return isZip(head.subarray(0, bytesRead)) || isPart10(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

if (require.main === module) runCli('liverseg-segment', main);
