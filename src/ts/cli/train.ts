#!/usr/bin/env node
/**
 * `liverseg-train`: trains one-stage, coarse, fine or two-stage models from a config file and/or flags.
 *   liverseg-train --data Task03_Liver --output runs/liver [--config train.json] [--stage two-stage] [...]
 */
import { spawn } from 'child_process';
import * as net from 'net';
import * as os from 'os';
import { parseArgs } from 'util';
import { DistributedOptions, distributedFromEnv } from '../native/distributed';
import { flagName, parseFlagValue, readTrainConfigFile, resolveTrainConfig, TRAIN_FIELDS, TrainConfig, trainConfigSchema } from '../engines/config';
import { formatDuration } from '../engines/progress';
import { train } from '../engines/trainer';
import { runCli, UsageError } from './run';

function usage(): string {
  const rows = Object.entries(TRAIN_FIELDS).map(([k, f]) => {
    const flag = flagName(k) + (f.kind === 'boolean' ? '' : ' V');
    return `  ${flag.padEnd(26)}${f.doc} (default ${JSON.stringify(f.default)})`;
  });
  return [
    'Usage: liverseg-train --data DIR [--config FILE] [options]',
    '',
    "Trains liver segmentation models on an MSD-style folder. Settings come from the defaults (the report's",
    'recipe), then the JSON config file, then the flags. Ctrl-C saves the last checkpoint; --resume continues it.',
    '',
    'Options:',
    '  --config FILE             JSON config with any of the fields below (see --print-schema)',
    ...rows,
    '',
    'Several processes (data-parallel, gradients averaged over c10d/Gloo; only rank 0 writes files):',
    '  --nproc N                 start N ranks on this machine, each with 1/N of every global batch',
    '  --rank R --world-size W --master HOST:PORT',
    "                            join a run of W ranks (also from torchrun's RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)",
    '  --dist-timeout S          seconds before a missing peer or master ends the run with ERR_DISTRIBUTED (default 120)',
    '',
    '  --print-schema            print the config JSON Schema and exit',
    '  --print-config            print the resolved config and exit',
    '  -h, --help                this text',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    'print-schema': { type: 'boolean' },
    'print-config': { type: 'boolean' },
    nproc: { type: 'string' },
    rank: { type: 'string' },
    'world-size': { type: 'string' },
    master: { type: 'string' },
    'dist-timeout': { type: 'string' },
  };
  for (const [k, f] of Object.entries(TRAIN_FIELDS)) options[flagName(k).slice(2)] = { type: f.kind === 'boolean' ? 'boolean' : 'string' };
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  if (values.help) {
    process.stdout.write(usage() + '\n');
    return 0;
  }
  if (values['print-schema']) {
    process.stdout.write(JSON.stringify(trainConfigSchema(), null, 2) + '\n');
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const fromFile = typeof values.config === 'string' ? await readTrainConfigFile(values.config) : {};
  const fromFlags: Record<string, unknown> = {};
  for (const k of Object.keys(TRAIN_FIELDS) as (keyof TrainConfig)[]) {
    const v = values[flagName(k).slice(2)];
    if (v !== undefined) fromFlags[k] = parseFlagValue(k, v as string | true);
  }
  const config = resolveTrainConfig(fromFile, fromFlags);
  if (values['print-config']) {
    process.stdout.write(JSON.stringify(config, null, 2) + '\n');
    return 0;
  }
  const nproc = values.nproc === undefined ? 1 : intFlag('--nproc', values.nproc as string, 1, 256);
  const distributed = distributedFlags(values);
  if (nproc > 1) {
    if (distributed) throw new UsageError('--nproc starts the ranks itself: do not combine it with --rank, --world-size or --master');
    return launchRanks(argv, nproc);
  }
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write('\nliverseg-train: interrupted; saving the last checkpoint (Ctrl-C again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  const t0 = Date.now();
  try {
    const result = await train(config, { signal: controller.signal, distributed });
    if (distributed && distributed.rank !== 0) return result.interrupted ? 130 : 0;
    const parts = result.stages.map(
      (s) => `${s.stage}: best Dice ${s.bestDice === null ? 'n/a' : s.bestDice.toFixed(4)} at epoch ${s.bestEpoch ?? '-'} (${s.bundle})`,
    );
    const summary = `liverseg-train: ${result.interrupted ? 'interrupted' : 'done'} in ${formatDuration((Date.now() - t0) / 1000)}; ${parts.join('; ')}${result.pipeline ? `; pipeline ${result.pipeline}` : ''}`;
    process.stdout.write(summary + '\n');
    return result.interrupted ? 130 : 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function intFlag(flag: string, raw: string, min: number, max: number): number {
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) throw new UsageError(`${flag} expects an integer from ${min} to ${max}, got '${raw}'`);
  return v;
}

/** --rank/--world-size/--master (all three), else torchrun's environment, else none. */
function distributedFlags(values: Record<string, unknown>): DistributedOptions | undefined {
  const given = ['rank', 'world-size', 'master'].filter((k) => values[k] !== undefined);
  const timeout = values['dist-timeout'] === undefined ? undefined : Number(values['dist-timeout']);
  if (timeout !== undefined && !(timeout > 0)) throw new UsageError(`--dist-timeout expects seconds > 0, got '${String(values['dist-timeout'])}'`);
  if (given.length > 0 && given.length < 3) throw new UsageError('--rank, --world-size and --master go together');
  const d: DistributedOptions | undefined =
    given.length === 3
      ? {
          rank: intFlag('--rank', values.rank as string, 0, 4095),
          worldSize: intFlag('--world-size', values['world-size'] as string, 1, 4096),
          master: values.master as string,
        }
      : distributedFromEnv();
  if (!d || d.worldSize === 1) return undefined;
  return timeout === undefined ? d : { ...d, timeoutSeconds: timeout };
}

/** A port nothing listens on now (the OS picks it), for the ranks' rendezvous on this machine. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * --nproc N: N child processes of this CLI, rank 0 to N - 1, rendezvous at 127.0.0.1 on a free
 * port, LibTorch threads split between them (unless LIVERSEG_NUM_THREADS is set). The first rank
 * that fails stops the others; the exit code is the first non-zero one.
 */
async function launchRanks(argv: string[], nproc: number): Promise<number> {
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--nproc') i++;
    else if (!argv[i].startsWith('--nproc=')) rest.push(argv[i]);
  }
  const master = `127.0.0.1:${await freePort()}`;
  const threads = process.env.LIVERSEG_NUM_THREADS ?? String(Math.max(1, Math.floor(os.availableParallelism() / nproc)));
  process.stderr.write(`liverseg-train: starting ${nproc} ranks (rendezvous ${master}, ${threads} thread(s) each)\n`);
  const children = Array.from({ length: nproc }, (_, rank) =>
    spawn(process.execPath, [...process.execArgv, __filename, ...rest, '--rank', String(rank), '--world-size', String(nproc), '--master', master], {
      stdio: 'inherit',
      env: { ...process.env, LIVERSEG_NUM_THREADS: threads },
    }),
  );
  // Ctrl-C reaches the children from the terminal; the launcher only waits for them.
  const onSigint = () => undefined;
  process.on('SIGINT', onSigint);
  try {
    const codes = await Promise.all(
      children.map(
        (child) =>
          new Promise<number>((resolve) =>
            child.on('exit', (code, signal) => {
              const c = code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1);
              if (c !== 0 && c !== 130) for (const other of children) if (other !== child && other.exitCode === null) other.kill('SIGTERM');
              resolve(c);
            }),
          ),
      ),
    );
    return codes.find((c) => c !== 0) ?? 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

if (require.main === module) runCli('liverseg-train', main);
