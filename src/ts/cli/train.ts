#!/usr/bin/env node
/**
 * `liverseg-train`: trains one-stage, coarse, fine or two-stage models from a config file and/or flags.
 *   liverseg-train --data Task03_Liver --output runs/liver [--config train.json] [--stage two-stage] [...]
 */
import { parseArgs } from 'util';
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
    const result = await train(config, { signal: controller.signal });
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

if (require.main === module) runCli('liverseg-train', main);
