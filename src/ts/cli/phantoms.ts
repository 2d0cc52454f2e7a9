#!/usr/bin/env node
/**
 * `liverseg-phantoms`: writes a folder of synthetic abdominal CT phantoms in MSD layout.
 *
 *   liverseg-phantoms --out DIR [--count N] [--size NI,NJ,NK] [--seed S] [--spacing SI,SJ,SK]
 *                     [--contrast yes|no] [--gzip-level L]
 */
import { isLiversegError } from '../errors';
import { writePhantomDataset } from '../data/phantom-dataset';
import type { PhantomDatasetOptions } from '../data/phantom-dataset';

const USAGE = `Usage: liverseg-phantoms --out DIR [options]

Writes synthetic abdominal CT phantoms (int16 HU) with liver labels (1 liver, 2 tumour) as an
MSD-style folder: DIR/dataset.json, DIR/imagesTr/*.nii.gz, DIR/labelsTr/*.nii.gz.

Options:
  --out DIR             output folder (created if needed)
  --count N             number of cases (default 10)
  --size NI,NJ,NK       voxels per case (default 96,96,64)
  --seed S              dataset seed (default 0); the same seed writes the same files
  --spacing SI,SJ,SK    voxel size in mm (default: random per case, clinical field of view)
  --contrast yes|no     contrast-enhanced phase for every case (default: random per case)
  --gzip-level L        zlib level 0..9 (default 1)
  --quiet               no per-case lines
  -h, --help            this text`;

/** Parsed command line of {@link main}. */
export interface PhantomsArgs {
  out: string;
  options: PhantomDatasetOptions;
  quiet: boolean;
}

class UsageError extends Error {}

function numbers(flag: string, v: string, n: number, integer: boolean): number[] {
  const parts = v.split(/[,x]/).map((s) => Number(s.trim()));
  if (parts.length !== n || !parts.every((x) => Number.isFinite(x) && x > 0 && (!integer || Number.isInteger(x)))) {
    throw new UsageError(`${flag} expects ${n} positive ${integer ? 'integers' : 'numbers'} separated by commas, got '${v}'`);
  }
  return parts;
}

/** Parses arguments (without the node and script entries). Throws a usage error with a one-line reason. */
export function parsePhantomsArgs(argv: readonly string[]): PhantomsArgs | 'help' {
  let out: string | undefined;
  const options: PhantomDatasetOptions = { count: 10, shape: [96, 96, 64] };
  let quiet = false;
  for (let a = 0; a < argv.length; a++) {
    const arg = argv[a];
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++a];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '-h':
      case '--help':
        return 'help';
      case '--out':
        out = value();
        break;
      case '--count':
        options.count = numbers(flag, value(), 1, true)[0];
        break;
      case '--size':
        options.shape = numbers(flag, value(), 3, true);
        break;
      case '--seed': {
        const v = value();
        const s = Number(v);
        if (!Number.isInteger(s) || s < 0) throw new UsageError(`--seed expects a non-negative integer, got '${v}'`);
        options.seed = s;
        break;
      }
      case '--spacing':
        options.spacing = numbers(flag, value(), 3, false);
        break;
      case '--contrast': {
        const v = value().toLowerCase();
        if (!['yes', 'no', 'true', 'false'].includes(v)) throw new UsageError(`--contrast expects yes or no, got '${v}'`);
        options.contrast = v === 'yes' || v === 'true';
        break;
      }
      case '--gzip-level': {
        const v = value();
        const l = Number(v);
        if (!Number.isInteger(l) || l < 0 || l > 9) throw new UsageError(`--gzip-level expects an integer 0..9, got '${v}'`);
        options.gzipLevel = l;
        break;
      }
      case '--quiet':
        quiet = true;
        break;
      default:
        throw new UsageError(`unknown option '${arg}' (see --help)`);
    }
  }
  if (out === undefined) throw new UsageError('--out DIR is required (see --help)');
  return { out, options, quiet };
}

/**
 * Runs the command; resolves to the exit code (0 success, 1 failure, 2 usage error). Progress goes
 * to stdout, a one-line reason to stderr.
 */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  let args: PhantomsArgs | 'help';
  try {
    args = parsePhantomsArgs(argv);
  } catch (e) {
    process.stderr.write(`liverseg-phantoms: ${(e as Error).message}\n`);
    return 2;
  }
  if (args === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const { out, options, quiet } = args;
  const t0 = Date.now();
  try {
    const res = await writePhantomDataset(out, {
      ...options,
      onCase: quiet
        ? undefined
        : ({ done, total, name, info }) => {
            const sp = info.spacing.map((s) => s.toFixed(2)).join('x');
            process.stdout.write(
              `[${done}/${total}] ${name}  spacing ${sp} mm  ${info.contrast ? 'contrast' : 'plain'}  tumours ${info.tumours.length}  noise ${info.noiseSigma.toFixed(0)} HU\n`,
            );
          },
    });
    const s = ((Date.now() - t0) / 1000).toFixed(1);
    process.stdout.write(`Wrote ${res.cases.length} phantoms (${options.shape.join('x')}) to ${res.root} in ${s} s\n`);
    return 0;
  } catch (e) {
    const msg = isLiversegError(e) ? `${e.code}: ${e.message}` : (e as Error).message;
    process.stderr.write(`liverseg-phantoms: ${msg}\n`);
    return 1;
  }
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
  });
}
