#!/usr/bin/env node
/**
 * `liverseg-worker`: takes jobs from the BullMQ queue that `liverseg-serve --queue` fills.
 *   liverseg-worker --model pipeline.json --queue redis://127.0.0.1:6379
 */
import { parseArgs } from 'util';
import { startWorker } from '../serve';
import { parseDuration, parseSize } from '../serve/options';
import { runCli, UsageError } from './run';

const USAGE = `Usage: liverseg-worker --model MODEL --queue redis://HOST:PORT [options]

Loads the model once, then runs the segmentation jobs that 'liverseg-serve --queue' puts on Redis,
on this machine or any other that reaches the Redis. A worker that dies mid-job (even killed) loses
the job to another worker after the lock duration; SIGTERM lets running jobs finish (within
--drain-timeout, then puts them back in the queue) and exits.

Options:
  -m, --model FILE        pipeline.json or a model bundle JSON (required)
  --queue URL             redis://[user:pass@]HOST:PORT[/db] (required)
  --queue-name NAME       prefix of every Redis key (default liverseg; the same as the API's)
  --store DIR             the folder shared with the API (default: files travel through Redis)
  --concurrency N         jobs at once (default 1)
  --name NAME             this worker's name in job records and metrics (default HOST:PID)
  --job-timeout DUR       time limit of one job (default 10m)
  --result-ttl DUR        how long results are kept (default 1h; the same as the API's)
  --drain-timeout DUR     on SIGTERM, how long running jobs get to finish (default 2m)
  --lock-duration DUR     job lock (default 30s); --stalled-interval DUR (default the same)
  --max-redis-file SIZE   largest file through Redis (default 256MB)
  --device D              auto | cpu | cuda | cuda:N (default: LIVERSEG_DEVICE or auto)
  -h, --help              this text`;

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string', short: 'm' },
      queue: { type: 'string' },
      'queue-name': { type: 'string' },
      store: { type: 'string' },
      concurrency: { type: 'string' },
      name: { type: 'string' },
      'job-timeout': { type: 'string' },
      'result-ttl': { type: 'string' },
      'drain-timeout': { type: 'string' },
      'lock-duration': { type: 'string' },
      'stalled-interval': { type: 'string' },
      'max-redis-file': { type: 'string' },
      device: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  if (!values.model) throw new UsageError('-m/--model is required');
  if (!values.queue) throw new UsageError('--queue is required');
  if (values.concurrency !== undefined && !/^[1-9]\d*$/.test(values.concurrency)) throw new UsageError(`--concurrency: expected a positive whole number`);
  const dur = (v: string | undefined, name: string): number | undefined => (v === undefined ? undefined : parseDuration(v, `--${name}`));
  const worker = await startWorker({
    model: values.model,
    queue: values.queue,
    queueName: values['queue-name'],
    store: values.store,
    concurrency: values.concurrency === undefined ? undefined : Number(values.concurrency),
    name: values.name,
    jobTimeoutMs: dur(values['job-timeout'], 'job-timeout'),
    resultTtlMs: dur(values['result-ttl'], 'result-ttl'),
    drainTimeoutMs: dur(values['drain-timeout'], 'drain-timeout'),
    lockDurationMs: dur(values['lock-duration'], 'lock-duration'),
    stalledIntervalMs: dur(values['stalled-interval'], 'stalled-interval'),
    maxRedisBlobBytes: values['max-redis-file'] ? parseSize(values['max-redis-file'], '--max-redis-file') : undefined,
    device: values.device,
  });
  process.stderr.write(`liverseg-worker ${worker.name}: model loaded, taking jobs from ${values.queue.replace(/\/\/[^@/]*@/, '//***@')}\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      process.stderr.write(`liverseg-worker ${worker.name}: ${signal}: finishing running jobs\n`);
      worker.close().then(resolve, (e: unknown) => {
        process.stderr.write(`liverseg-worker ${worker.name}: error while stopping: ${(e as Error).message}\n`);
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  const st = worker.stats();
  process.stderr.write(`liverseg-worker ${worker.name}: stopped (${st.done} done, ${st.failed} failed, ${st.cancelled} cancelled)\n`);
  return 0;
}

if (require.main === module) runCli('liverseg-worker', main);
