#!/usr/bin/env node
/**
 * `liverseg-serve`: the HTTP service with the viewer page.
 *   liverseg-serve --model pipeline.json
 *   liverseg-serve --queue redis://127.0.0.1:6379 --token-file /etc/liverseg/token
 */
import { promises as fsp } from 'fs';
import { parseArgs } from 'util';
import { createServer } from '../serve';
import type { JobRecord } from '../serve/jobs';
import { parseDuration, parseSize } from '../serve/options';
import { runCli, UsageError } from './run';

const USAGE = `Usage: liverseg-serve --model MODEL [options]
       liverseg-serve --queue redis://HOST:PORT [--model MODEL] [options]

Serves liver segmentation over HTTP, with a viewer page at /. Without --queue the jobs run in this
process; with --queue they go to BullMQ on that Redis and 'liverseg-worker' processes run them
(with --model as well, this process also works the queue). See docs/SERVE.md.

Options:
  -m, --model FILE        pipeline.json or a model bundle JSON (loaded once, at start)
  --port N                port (default 8080; 0 picks a free one)
  --host ADDR             address to bind (default 127.0.0.1: this machine only)
  --token-file F          require 'Authorization: Bearer <the file's first line>' on every route but the health checks
  --queue URL             redis://[user:pass@]HOST:PORT[/db]: use BullMQ on this Redis
  --queue-name NAME       prefix of every Redis key (default liverseg)
  --store DIR             folder for uploads and results, shared by every API and worker (default: a private
                          temporary folder; with --queue and no --store, files travel through Redis)
  --max-upload SIZE       largest upload (default 2GB); 413 above
  --max-redis-file SIZE   largest file through Redis, with --queue and no --store (default 256MB)
  --max-queued N          jobs that may wait (default 16); 429 with Retry-After above
  --concurrency N         jobs this process runs at once (default 1; with --queue, 0 runs none)
  --job-timeout DUR       time limit of one job (default 10m)
  --result-ttl DUR        how long results are kept after a job ends (default 1h)
  --drain-timeout DUR     on SIGTERM, how long running jobs get to finish (default 2m)
  --lock-duration DUR     BullMQ job lock (default 30s): how soon a dead worker's job is taken over
  --device D              auto | cpu | cuda | cuda:N (default: LIVERSEG_DEVICE or auto)
  --quiet                 no request log
  -h, --help              this text

Sizes: 2GB, 500MB, 1048576. Durations: 90s, 10m, 1h.`;

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string', short: 'm' },
      port: { type: 'string' },
      host: { type: 'string' },
      'token-file': { type: 'string' },
      queue: { type: 'string' },
      'queue-name': { type: 'string' },
      store: { type: 'string' },
      'max-upload': { type: 'string' },
      'max-redis-file': { type: 'string' },
      'max-queued': { type: 'string' },
      concurrency: { type: 'string' },
      'job-timeout': { type: 'string' },
      'result-ttl': { type: 'string' },
      'drain-timeout': { type: 'string' },
      'lock-duration': { type: 'string' },
      device: { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  if (!values.model && !values.queue) throw new UsageError('-m/--model is required (or --queue, for an API whose workers run elsewhere)');
  const int = (v: string | undefined, name: string): number | undefined => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new UsageError(`--${name}: expected a whole number, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  let token: string | undefined;
  if (values['token-file']) {
    const text = await fsp.readFile(values['token-file'], 'utf8').catch(() => {
      throw new UsageError(`--token-file: cannot read ${values['token-file']}`);
    });
    token = text.split(/\r?\n/)[0].trim();
    if (token.length < 16) throw new UsageError('--token-file: the token (its first line) must be at least 16 characters');
  }
  const server = await createServer({
    model: values.model,
    port: int(values.port, 'port'),
    host: values.host,
    token,
    queue: values.queue,
    queueName: values['queue-name'],
    store: values.store,
    maxUploadBytes: values['max-upload'] ? parseSize(values['max-upload'], '--max-upload') : undefined,
    maxRedisBlobBytes: values['max-redis-file'] ? parseSize(values['max-redis-file'], '--max-redis-file') : undefined,
    maxQueued: int(values['max-queued'], 'max-queued'),
    concurrency: int(values.concurrency, 'concurrency'),
    jobTimeoutMs: values['job-timeout'] ? parseDuration(values['job-timeout'], '--job-timeout') : undefined,
    resultTtlMs: values['result-ttl'] ? parseDuration(values['result-ttl'], '--result-ttl') : undefined,
    drainTimeoutMs: values['drain-timeout'] ? parseDuration(values['drain-timeout'], '--drain-timeout') : undefined,
    lockDurationMs: values['lock-duration'] ? parseDuration(values['lock-duration'], '--lock-duration') : undefined,
    device: values.device,
    logger: values.quiet ? false : { level: 'info' },
  });
  const where = values.queue ? `queue ${values.queue.replace(/\/\/[^@/]*@/, '//***@')}` : 'in-process queue';
  process.stderr.write(`liverseg-serve: listening on ${server.url} (${where}${token ? ', token required' : ''}); viewer at ${server.url}/\n`);
  server.queue.on('finished', (r: JobRecord | null) => {
    if (!r) return;
    const secs = r.startedAt !== undefined && r.finishedAt !== undefined ? ` in ${((r.finishedAt - r.startedAt) / 1000).toFixed(1)} s` : '';
    process.stderr.write(`liverseg-serve: job ${r.data.id} ${r.state}${secs}${r.error ? `: ${r.error.code} ${r.error.message}` : ''}\n`);
  });
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      process.stderr.write(`liverseg-serve: ${signal}: refusing new jobs, finishing running ones\n`);
      server.close().then(resolve, (e: unknown) => {
        process.stderr.write(`liverseg-serve: error while stopping: ${(e as Error).message}\n`);
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  process.stderr.write('liverseg-serve: stopped\n');
  return 0;
}

if (require.main === module) runCli('liverseg-serve', main);
