/**
 * The HTTP service: fastify v5 with JSON-schema validation of every route's parameters and
 * response serialisation. See docs/SERVE.md for the routes, status codes and error codes.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createWriteStream, promises as fsp } from 'node:fs';
import * as nodePath from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline as streamPipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import type { Redis } from 'ioredis';
import { invalidArg, LiversegError } from '../errors';
import type { LoadedPipeline } from '../inferers/pipeline';
import { packageVersion } from '../util/package';
import { BullmqQueue } from './bullmq-queue';
import type { JobData, JobOptions, ResultFile } from './jobs';
import { JOB_VIEW_SCHEMA, jobView, RESULT_FILES } from './jobs';
import { createMetrics } from './metrics';
import { checkPositiveInt, checkRedisUrl, DEFAULTS, ServerOptions } from './options';
import type { JobQueue } from './queue';
import { InProcessQueue, QueueFullError } from './queue';
import { connectRedis, redisKeys, waitForRedis } from './redis';
import { defaultWorkerName, loadModel } from './runner';
import { sniffFile, UploadKind } from './sniff';
import type { BlobStore } from './store';
import { FolderStore, JOB_ID_PATTERN, RedisStore, removeQuietly } from './store';
import { loadViewerAssets, ViewerAssets } from './viewer';
import type { LiversegWorker } from './worker';
import { startWorker } from './worker';

export interface LiversegServer {
  /** The fastify instance (routes registered, listening). */
  readonly app: FastifyInstance;
  /** `http://HOST:PORT` it listens on. */
  readonly url: string;
  readonly port: number;
  readonly queue: JobQueue;
  readonly store: BlobStore;
  /**
   * Stops: refuses new jobs (503) and reports not ready, lets running jobs finish (in-process:
   * queued ones too) within `drainTimeoutMs` while still answering for them, then stops listening
   * and frees everything. Safe to call more than once.
   */
  close(): Promise<void>;
}

/** An error answer: `{ statusCode, code, error, message }`. */
class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

const ERROR_SCHEMA = {
  type: 'object',
  properties: { statusCode: { type: 'integer' }, code: { type: 'string' }, error: { type: 'string' }, message: { type: 'string' } },
} as const;

const ID_PARAMS = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', pattern: JOB_ID_PATTERN } },
} as const;

/** Routes that need no token: the health checks, and the viewer's static files (they hold no data; the page asks for the token). */
const PUBLIC_ROUTES = new Set(['/healthz', '/readyz', '/', '/index.html', '/favicon.ico', '/viewer/:file']);

/** By the route the request matched (never by the raw URL, which a client can dress up). */
function isPublic(req: FastifyRequest): boolean {
  const route = req.routeOptions.url;
  return route !== undefined && PUBLIC_ROUTES.has(route);
}

/** Constant-time comparison of a presented bearer token with the configured one (hashes first, so lengths never leak). */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Results this build cannot make, and why (the result routes answer 404 with it). None at present. */
const UNAVAILABLE: Partial<Record<ResultFile, string>> = {};

const CONTENT_TYPES: Record<ResultFile, string> = {
  'mask.nii.gz': 'application/gzip',
  'seg.dcm': 'application/dicom',
  'preview.png': 'image/png',
  'stats.json': 'application/json',
  'ct.nii.gz': 'application/gzip',
};

/** Why a job that is done lacks a file this build can make. */
const ONLY_FOR_DICOM: Partial<Record<ResultFile, string>> = {
  'seg.dcm': 'a DICOM SEG is made only for DICOM inputs (a zip or DICOM files)',
  'ct.nii.gz': 'the CT is returned as NIfTI only for DICOM inputs (a NIfTI input is its own)',
};

/** The kinds this build can segment. */
const SUPPORTED_KINDS: readonly UploadKind[] = ['nifti', 'nifti-gz', 'zip', 'dicom'];

interface Settings {
  maxUploadBytes: number;
  maxUploadFiles: number;
  maxQueued: number;
  resultTtlMs: number;
  jobTimeoutMs: number;
  drainTimeoutMs: number;
  concurrency: number;
}

function resolveSettings(o: ServerOptions): Settings {
  return {
    maxUploadBytes: checkPositiveInt(o.maxUploadBytes ?? DEFAULTS.maxUploadBytes, 'maxUploadBytes'),
    maxUploadFiles: checkPositiveInt(o.maxUploadFiles ?? DEFAULTS.maxUploadFiles, 'maxUploadFiles'),
    maxQueued: checkPositiveInt(o.maxQueued ?? DEFAULTS.maxQueued, 'maxQueued'),
    resultTtlMs: checkPositiveInt(o.resultTtlMs ?? DEFAULTS.resultTtlMs, 'resultTtlMs'),
    jobTimeoutMs: checkPositiveInt(o.jobTimeoutMs ?? DEFAULTS.jobTimeoutMs, 'jobTimeoutMs'),
    drainTimeoutMs: checkPositiveInt(o.drainTimeoutMs ?? DEFAULTS.drainTimeoutMs, 'drainTimeoutMs', 0),
    concurrency: checkPositiveInt(o.concurrency ?? DEFAULTS.concurrency, 'concurrency', o.queue ? 0 : 1),
  };
}

/**
 * Starts the service: loads the model (without a queue, or with one when `model` is given),
 * connects the queue, and listens.
 * @example
 * const server = await createServer({ model: 'models/pipeline.json', port: 8080 });
 * process.on('SIGTERM', () => void server.close());
 */
export async function createServer(options: ServerOptions): Promise<LiversegServer> {
  if (options === null || typeof options !== 'object') throw invalidArg('options', 'expected an object');
  const s = resolveSettings(options);
  const host = options.host ?? DEFAULTS.host;
  const port = options.port ?? DEFAULTS.port;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw invalidArg('port', `expected 0..65535, got ${String(port)}`);
  if (!options.queue && !options.model) throw invalidArg('model', 'a model is required without a queue (the service runs the jobs itself)');
  if (options.token !== undefined && !(typeof options.token === 'string' && options.token.length >= 16)) {
    throw invalidArg('token', 'expected a string of at least 16 characters');
  }
  const viewer = await loadViewerAssets();

  let queue: JobQueue;
  let store: BlobStore;
  let redis: Redis | undefined;
  let embedded: LiversegWorker | undefined;
  let pipeline: LoadedPipeline | undefined;
  const limits = { maxQueued: s.maxQueued, resultTtlMs: s.resultTtlMs, jobTimeoutMs: s.jobTimeoutMs };
  let bull: BullmqQueue | undefined;
  if (options.queue) {
    checkRedisUrl(options.queue);
    const keys = redisKeys(options.queueName ?? DEFAULTS.queueName);
    redis = connectRedis(options.queue, 'liverseg-serve');
    try {
      await waitForRedis(redis, options.queue);
    } catch (e) {
      redis.disconnect();
      throw e;
    }
    store = options.store
      ? await FolderStore.create(options.store)
      : await RedisStore.create(redis, keys.prefix, options.maxRedisBlobBytes ?? DEFAULTS.maxRedisBlobBytes);
    if (store instanceof RedisStore) s.maxUploadBytes = Math.min(s.maxUploadBytes, store.maxBytes);
    bull = new BullmqQueue(redis, keys, store, limits);
    queue = bull;
    await bull.waitUntilReady();
    if (options.model && s.concurrency > 0) {
      embedded = await startWorker({ ...options, model: options.model, queue: options.queue, concurrency: s.concurrency }, { redis, store });
      pipeline = embedded.pipeline;
    }
  } else {
    pipeline = await loadModel(options.model!, options.device);
    store = await FolderStore.create(options.store);
    queue = new InProcessQueue(store, pipeline, s.concurrency, limits, defaultWorkerName());
  }
  const metrics = createMetrics(queue, { pipeline: () => pipeline, workers: bull ? () => bull!.workers() : undefined });
  let draining = false;

  const app = Fastify({
    logger: options.logger ?? false,
    // Uploads of a few GB over a slow link: far more than Node's default 5 minutes.
    requestTimeout: 60 * 60_000,
    bodyLimit: 1024 * 1024,
    genReqId: () => randomUUID(),
    // Unknown query parameters are refused (400), not silently dropped; "true" still reads as a boolean.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: unknown; headers?: Record<string, string> }, _req, reply) => {
    if (err instanceof HttpError) {
      return reply
        .code(err.statusCode)
        .headers(err.headers)
        .send({ statusCode: err.statusCode, code: err.code, error: STATUS_TEXT[err.statusCode], message: err.message });
    }
    const status = err.validation ? 400 : err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) reply.log.error(err);
    const code = err.validation
      ? 'ERR_BAD_REQUEST'
      : status === 413
        ? 'ERR_UPLOAD_TOO_LARGE'
        : status === 415
          ? 'ERR_UNSUPPORTED_MEDIA_TYPE'
          : status >= 500
            ? 'ERR_INTERNAL'
            : 'ERR_BAD_REQUEST';
    const message = status >= 500 ? 'internal error' : err.message;
    return reply.code(status).send({ statusCode: status, code, error: STATUS_TEXT[status] ?? 'Error', message });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ statusCode: 404, code: 'ERR_NOT_FOUND', error: 'Not Found', message: `no route ${req.method} ${req.url.split('?')[0]}` });
  });

  // Bodies: only POST /v1/jobs takes one, as raw bytes or multipart; nothing is parsed into memory.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null));
  await app.register(multipart, {
    limits: { fileSize: s.maxUploadBytes, files: s.maxUploadFiles, fields: 20, fieldSize: 4096, parts: s.maxUploadFiles + 20, headerPairs: 200 },
  });

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    if (options.token === undefined || isPublic(req)) return;
    const h = req.headers.authorization;
    const m = typeof h === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
    if (!m || !tokenMatches(m[1], options.token)) {
      metrics.rejected('unauthorized');
      throw new HttpError(401, 'ERR_UNAUTHORIZED', m ? 'the bearer token is not valid' : 'this route needs an Authorization: Bearer token', {
        'www-authenticate': 'Bearer realm="liverseg"',
      });
    }
  });

  app.get(
    '/healthz',
    { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' }, version: { type: 'string' } } } } } },
    async () => ({
      status: 'ok',
      version: packageVersion(),
    }),
  );

  const READY_SCHEMA = {
    type: 'object',
    properties: {
      status: { type: 'string' },
      reason: { type: 'string' },
      queue: { type: 'string' },
      store: { type: 'string' },
      workers: { type: 'integer' },
    },
  } as const;
  app.get('/readyz', { schema: { response: { 200: READY_SCHEMA, 503: READY_SCHEMA } } }, async (_req, reply) => {
    const r = draining
      ? { ok: false, reason: 'shutting down', workers: 0 }
      : await queue.ready().catch((e: Error) => ({ ok: false, reason: e.message, workers: 0 }));
    // No token here: nothing about where things are (paths, hosts), only whether they work.
    const body = {
      status: r.ok ? 'ready' : 'not ready',
      reason: r.reason,
      queue: options.queue ? 'redis' : 'in-process',
      store: store.kind,
      workers: r.workers,
    };
    return reply.code(r.ok ? 200 : 503).send(body);
  });

  app.get('/metrics', async (_req, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });

  app.get(
    '/v1/info',
    {
      schema: {
        response: {
          200: {
            type: 'object',
            properties: {
              version: { type: 'string' },
              inputs: { type: 'array', items: { type: 'string' } },
              results: { type: 'array', items: { type: 'string' } },
              maxUploadBytes: { type: 'integer' },
              maxQueued: { type: 'integer' },
              resultTtlSeconds: { type: 'integer' },
              queue: { type: 'string' },
              model: { type: 'string' },
            },
          },
        },
      },
    },
    async () => ({
      version: packageVersion(),
      inputs: SUPPORTED_KINDS,
      results: RESULT_FILES.filter((f) => !UNAVAILABLE[f] && f !== 'ct.nii.gz'),
      maxUploadBytes: s.maxUploadBytes,
      maxQueued: s.maxQueued,
      resultTtlSeconds: Math.round(s.resultTtlMs / 1000),
      queue: queue.kind,
      model: pipeline ? nodePath.basename(pipeline.source) : undefined,
    }),
  );

  app.post<{ Querystring: JobOptions }>(
    '/v1/jobs',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { mirror: { type: 'boolean' }, overlap: { type: 'number', minimum: 0, maximum: 0.9 } },
        },
        response: { 202: JOB_VIEW_SCHEMA, '4xx': ERROR_SCHEMA, '5xx': ERROR_SCHEMA },
      },
    },
    async (req, reply) => {
      if (draining) {
        metrics.rejected('shutting_down');
        throw new HttpError(503, 'ERR_SHUTTING_DOWN', 'the service is shutting down; send the job to another instance', {
          'retry-after': '5',
          connection: 'close',
        });
      }
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > s.maxUploadBytes) {
        metrics.rejected('too_large');
        throw tooLarge(s.maxUploadBytes);
      }
      const f = await queue.full();
      if (f.full) {
        metrics.rejected('queue_full');
        throw new HttpError(429, 'ERR_QUEUE_FULL', `the queue is full (${s.maxQueued} jobs waiting); try again later`, {
          'retry-after': String(f.retryAfterSeconds),
          connection: 'close',
        });
      }
      const id = randomUUID();
      const staging = nodePath.join(store.scratch, `upload-${randomBytes(8).toString('hex')}`);
      await fsp.mkdir(staging, { mode: 0o700 });
      try {
        const files = req.isMultipart() ? await receiveMultipart(req, staging, s) : [await receiveRaw(req.raw, nodePath.join(staging, '0'), s.maxUploadBytes)];
        const { kind, bytes } = await classify(files);
        const expiresAt = Date.now() + s.resultTtlMs + 24 * 3600_000;
        for (const [i, f] of files.entries()) await store.put(id, `input-${i}`, f.path, expiresAt);
        const data: JobData = {
          id,
          input: { kind, files: files.length, bytes },
          options: { mirror: req.query.mirror, overlap: req.query.overlap },
          createdAt: Date.now(),
        };
        try {
          await queue.add(data);
        } catch (e) {
          await store.remove(id);
          if (e instanceof QueueFullError) {
            metrics.rejected('queue_full');
            throw new HttpError(429, 'ERR_QUEUE_FULL', `the queue is full (${s.maxQueued} jobs waiting); try again later`, {
              'retry-after': String(e.retryAfterSeconds),
            });
          }
          throw e;
        }
        metrics.accepted(bytes);
        const record = (await queue.get(id)) ?? { data, state: 'queued' as const, attempts: 0 };
        return reply.code(202).header('location', `/v1/jobs/${id}`).send(jobView(record));
      } catch (e) {
        if (e instanceof HttpError) {
          if (e.statusCode === 413) metrics.rejected('too_large');
          else if (e.statusCode === 415) metrics.rejected('unsupported');
          else if (e.statusCode === 400) metrics.rejected('bad_request');
          // Whatever of the body is still coming is not read: close the connection after answering.
          e.headers.connection = 'close';
        }
        throw e;
      } finally {
        await removeQuietly(staging);
      }
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/jobs/:id',
    { schema: { params: ID_PARAMS, response: { 200: JOB_VIEW_SCHEMA, '4xx': ERROR_SCHEMA } } },
    async (req) => {
      const r = await queue.get(req.params.id);
      if (!r) throw unknownJob(req.params.id);
      return jobView(r);
    },
  );

  app.get<{ Params: { id: string; file: ResultFile } }>(
    '/v1/jobs/:id/:file',
    {
      schema: {
        params: {
          type: 'object',
          required: ['id', 'file'],
          additionalProperties: false,
          properties: { id: ID_PARAMS.properties.id, file: { type: 'string', enum: RESULT_FILES } },
        },
      },
    },
    async (req, reply) => {
      const { id, file } = req.params;
      const r = await queue.get(id);
      if (!r) throw unknownJob(id);
      if (r.state !== 'done') {
        if (r.state === 'queued' || r.state === 'running')
          throw new HttpError(409, 'ERR_JOB_NOT_DONE', `job ${id} is ${r.state}; its results are not ready yet`);
        throw new HttpError(409, 'ERR_JOB_NOT_DONE', `job ${id} is ${r.state}: it has no results`);
      }
      if (!r.outcome?.results.includes(file)) {
        throw new HttpError(
          404,
          'ERR_NOT_AVAILABLE',
          `${file}: ${UNAVAILABLE[file] ?? r.outcome?.unavailable?.[file] ?? ONLY_FOR_DICOM[file] ?? `job ${id} has no ${file}`}`,
        );
      }
      const opened = await store.open(id, file);
      if (!opened) throw new HttpError(404, 'ERR_NOT_FOUND', `${file} of job ${id} has expired`);
      return reply
        .type(CONTENT_TYPES[file])
        .header('content-length', String(opened.size))
        .header('content-disposition', `attachment; filename="liverseg-${id}-${file}"`)
        .header('cache-control', 'private, no-store')
        .send(opened.stream);
    },
  );

  app.delete<{ Params: { id: string } }>('/v1/jobs/:id', { schema: { params: ID_PARAMS } }, async (req, reply) => {
    const out = await queue.cancel(req.params.id);
    if (!out) throw unknownJob(req.params.id);
    if (out === 'removed') return reply.code(204).send();
    if (out === 'cancelled') return reply.code(200).send({ id: req.params.id, state: 'cancelled' });
    return reply.code(202).send({ id: req.params.id, state: 'running', cancelling: true });
  });

  registerViewer(app, viewer);

  // Expired results go even when nobody asks for them.
  const sweeper = setInterval(
    () => {
      if (queue instanceof InProcessQueue) void queue.sweep();
      else if (bull) void bull.sweep();
    },
    Math.min(60_000, Math.max(500, s.resultTtlMs / 4)),
  );
  sweeper.unref();

  try {
    await app.listen({ port, host });
  } catch (e) {
    clearInterval(sweeper);
    await queue.close().catch(() => undefined);
    await embedded?.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    redis?.disconnect();
    throw new LiversegError('ERR_IO', `cannot listen on ${host}:${port}: ${(e as Error).message}`, { cause: e });
  }
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      draining = true;
      clearInterval(sweeper);
      await embedded?.close();
      await queue.drain(s.drainTimeoutMs);
      await app.close();
      await queue.close();
      await store.close();
      redis?.disconnect();
    })());

  return { app, url: `http://${urlHost}:${boundPort}`, port: boundPort, queue, store, close };
}

function tooLarge(max: number): HttpError {
  return new HttpError(413, 'ERR_UPLOAD_TOO_LARGE', `the upload is larger than this service accepts (${max} bytes)`);
}

function unknownJob(id: string): HttpError {
  return new HttpError(404, 'ERR_NOT_FOUND', `no job ${id} (unknown, removed or expired)`);
}

interface StagedFile {
  path: string;
  bytes: number;
}

/** Streams a raw request body to `dest`, refusing it (413) past `max` bytes without reading the rest. */
function receiveRaw(raw: Readable, dest: string, max: number): Promise<StagedFile> {
  return new Promise<StagedFile>((resolve, reject) => {
    let bytes = 0;
    let failed = false;
    const out = createWriteStream(dest, { flags: 'wx', mode: 0o600 });
    const fail = (e: Error): void => {
      if (failed) return;
      failed = true;
      raw.removeListener('data', onData);
      raw.pause();
      out.destroy();
      reject(e);
    };
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      if (bytes > max) return fail(tooLarge(max));
      if (!out.write(chunk)) {
        raw.pause();
        out.once('drain', () => raw.resume());
      }
    };
    raw.on('data', onData);
    raw.once('end', () => {
      if (!failed) out.end(() => resolve({ path: dest, bytes }));
    });
    raw.once('aborted', () => fail(new HttpError(400, 'ERR_BAD_REQUEST', 'the upload was interrupted')));
    raw.once('error', (e) => fail(e));
    out.once('error', (e) => fail(e));
  });
}

/** Streams every file part of a multipart body to the staging folder (file names from the client are ignored). */
async function receiveMultipart(req: FastifyRequest, staging: string, s: Settings): Promise<StagedFile[]> {
  const files: StagedFile[] = [];
  let total = 0;
  try {
    for await (const part of req.parts()) {
      if (part.type !== 'file') continue;
      const dest = nodePath.join(staging, String(files.length));
      let bytes = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          bytes += chunk.length;
          total += chunk.length;
          cb(total > s.maxUploadBytes ? tooLarge(s.maxUploadBytes) : null, chunk);
        },
      });
      await streamPipeline(part.file, counter, createWriteStream(dest, { flags: 'wx', mode: 0o600 }));
      if (part.file.truncated) throw tooLarge(s.maxUploadBytes);
      files.push({ path: dest, bytes });
    }
  } catch (e) {
    if (e instanceof HttpError) throw e;
    const err = e as Error & { statusCode?: number; code?: string };
    if (err.statusCode === 413 || err.code === 'FST_REQ_FILE_TOO_LARGE' || err.code === 'FST_FILES_LIMIT' || err.code === 'FST_PARTS_LIMIT') {
      throw new HttpError(413, 'ERR_UPLOAD_TOO_LARGE', `the upload is larger than this service accepts (${s.maxUploadBytes} bytes, ${s.maxUploadFiles} files)`);
    }
    throw new HttpError(400, 'ERR_BAD_REQUEST', `the multipart body could not be read: ${err.message}`);
  }
  if (files.length === 0) throw new HttpError(400, 'ERR_BAD_REQUEST', 'the multipart upload has no file part');
  return files;
}

/** What the upload is, from its bytes; 400 for an empty or mixed upload, 415 for anything else. */
async function classify(files: StagedFile[]): Promise<{ kind: UploadKind; bytes: number }> {
  const kinds: UploadKind[] = [];
  for (const [i, f] of files.entries()) {
    const r = await sniffFile(f.path);
    const which = files.length > 1 ? `file ${i + 1} of the upload` : 'the upload';
    if (r.kind === 'empty') throw new HttpError(400, 'ERR_UPLOAD_EMPTY', `${which} is empty`);
    if (r.kind === 'unknown')
      throw new HttpError(
        415,
        'ERR_UNSUPPORTED_MEDIA_TYPE',
        `${which} is ${r.reason}; send a NIfTI file (.nii, .nii.gz), a zip of a DICOM series or DICOM files`,
      );
    kinds.push(r.kind);
  }
  const kind = kinds[0];
  if (files.length > 1 && !kinds.every((k) => k === 'dicom')) {
    throw new HttpError(400, 'ERR_BAD_REQUEST', 'several files are accepted only as the DICOM files of one series; send a NIfTI volume or a zip on its own');
  }
  if (!SUPPORTED_KINDS.includes(kind)) {
    throw new HttpError(
      415,
      'ERR_UNSUPPORTED_MEDIA_TYPE',
      `${kind === 'zip' ? 'a zip' : 'DICOM'} input is not supported by this build of liverseg yet; send a NIfTI file (.nii, .nii.gz)`,
    );
  }
  return { kind, bytes: files.reduce((a, f) => a + f.bytes, 0) };
}

/** `/` and `/viewer/<file>`: the bundled viewer page, from the package's lib/viewer. */
function registerViewer(app: FastifyInstance, viewer: ViewerAssets): void {
  const send = (reply: FastifyReply, name: string): FastifyReply => {
    const a = viewer.files.get(name);
    if (!a) {
      return reply.code(404).send({ statusCode: 404, code: 'ERR_NOT_FOUND', error: 'Not Found', message: viewer.missing ?? `no viewer file ${name}` });
    }
    return reply
      .type(a.type)
      .header('cache-control', name === 'index.html' ? 'no-cache' : 'public, max-age=3600')
      .header(
        'content-security-policy',
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self' blob: data:; worker-src 'self' blob:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'",
      )
      .send(a.body);
  };
  app.get('/', async (_req, reply) => send(reply, 'index.html'));
  app.get('/favicon.ico', async (_req, reply) => reply.code(204).send());
  app.get('/index.html', async (_req, reply) => send(reply, 'index.html'));
  app.get<{ Params: { file: string } }>(
    '/viewer/:file',
    { schema: { params: { type: 'object', properties: { file: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,100}$' } } } } },
    async (req, reply) => send(reply, req.params.file),
  );
}
