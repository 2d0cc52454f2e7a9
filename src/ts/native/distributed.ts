/**
 * Data-parallel training contexts: a c10d process group (TCPStore rendezvous at the master,
 * Gloo collectives) made off the JS thread. Options are resolved and checked here; the addon
 * reads required fields only. Every failure (an unresolvable or unreachable master, a peer that
 * died, a collective past the timeout) is ERR_DISTRIBUTED.
 */
import { lookup } from 'dns/promises';
import { describeValue, invalidArg, LiversegError } from '../errors';
import type { NativeDistributed } from './binding';
import { loadBinding } from './loader';
import { native } from './tensors';

/** Where a process stands in a data-parallel run (torchrun's RANK, WORLD_SIZE, MASTER_ADDR:MASTER_PORT). */
export interface DistributedOptions {
  rank: number;
  worldSize: number;
  /** 'host:port' of rank 0's rendezvous (IPv6 as '[::1]:port'). */
  master: string;
  /** Rendezvous and every collective give up after this long (default 120 s). */
  timeoutSeconds?: number;
  /** Gradient bytes per all-reduce bucket (default 25 MiB, as PyTorch DDP). */
  bucketBytes?: number;
}

export interface ResolvedDistributedOptions {
  rank: number;
  worldSize: number;
  host: string;
  port: number;
  timeoutSeconds: number;
  bucketBytes: number;
}

export const DISTRIBUTED_DEFAULTS = Object.freeze({ timeoutSeconds: 120, bucketBytes: 25 * 2 ** 20 });

/** 'host:port' -> [host, port]; ERR_INVALID_ARG naming `name` otherwise. */
export function parseMaster(master: unknown, name = 'distributed.master'): [string, number] {
  if (typeof master !== 'string') throw invalidArg(name, `expected 'host:port', got ${describeValue(master)}`);
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(master) ?? /^([^:\s]+):(\d+)$/.exec(master);
  if (!m) throw invalidArg(name, `expected 'host:port', got ${describeValue(master)}`);
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalidArg(name, `port must be 1 to 65535, got ${m[2]}`);
  return [m[1], port];
}

export function resolveDistributedOptions(o: unknown): ResolvedDistributedOptions {
  if (o === null || typeof o !== 'object') throw invalidArg('distributed', `expected { rank, worldSize, master }, got ${describeValue(o)}`);
  const d = o as Partial<DistributedOptions>;
  const int = (v: unknown, name: string, min: number, max: number): number => {
    if (!Number.isInteger(v) || (v as number) < min || (v as number) > max)
      throw invalidArg(`distributed.${name}`, `expected an integer from ${min} to ${max}, got ${describeValue(v)}`);
    return v as number;
  };
  const worldSize = int(d.worldSize, 'worldSize', 1, 4096);
  const rank = int(d.rank, 'rank', 0, worldSize - 1);
  const [host, port] = parseMaster(d.master);
  const timeoutSeconds = d.timeoutSeconds ?? DISTRIBUTED_DEFAULTS.timeoutSeconds;
  if (typeof timeoutSeconds !== 'number' || !(timeoutSeconds > 0) || timeoutSeconds > 86400)
    throw invalidArg('distributed.timeoutSeconds', `expected seconds from 0 to 86400, got ${describeValue(timeoutSeconds)}`);
  const bucketBytes = int(d.bucketBytes ?? DISTRIBUTED_DEFAULTS.bucketBytes, 'bucketBytes', 1, 2 ** 31 - 1);
  return { rank, worldSize, host, port, timeoutSeconds, bucketBytes };
}

/** torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), when all four are set. */
export function distributedFromEnv(env: NodeJS.ProcessEnv = process.env): DistributedOptions | undefined {
  const { RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT } = env;
  if (RANK === undefined || WORLD_SIZE === undefined || MASTER_ADDR === undefined || MASTER_PORT === undefined) return undefined;
  const host = MASTER_ADDR.includes(':') ? `[${MASTER_ADDR}]` : MASTER_ADDR;
  return { rank: Number(RANK), worldSize: Number(WORLD_SIZE), master: `${host}:${MASTER_PORT}` };
}

/** A joined process group. Collectives must be called in the same order on every rank. */
export class DistributedContext {
  private closed = false;

  private constructor(
    /** The addon's handle; for nets/ to attach a model. */
    readonly native: NativeDistributed,
    readonly options: ResolvedDistributedOptions,
  ) {}

  get rank(): number {
    return this.options.rank;
  }

  get worldSize(): number {
    return this.options.worldSize;
  }

  /**
   * Joins the group: rank 0 serves the rendezvous at `master`, every rank connects. The host is
   * resolved first, so a wrong name fails at once rather than after the timeout.
   */
  static async create(options: DistributedOptions): Promise<DistributedContext> {
    const o = resolveDistributedOptions(options);
    const binding = loadBinding();
    if (!binding.distributedAvailable) {
      throw new LiversegError(
        'ERR_DISTRIBUTED',
        'Distributed training: this build of the addon has no c10d (rebuild it with the Gloo headers installed, e.g. apt-get install libgloo-dev)',
      );
    }
    let host = o.host;
    try {
      host = (await lookup(o.host, { family: 4 }).catch(() => lookup(o.host))).address;
    } catch (e) {
      throw new LiversegError(
        'ERR_DISTRIBUTED',
        `Distributed training: the master host '${o.host}' (from '${o.host}:${o.port}') does not resolve (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
        {
          cause: e,
        },
      );
    }
    const nat = await native(() =>
      binding.createDistributed({
        rank: o.rank,
        worldSize: o.worldSize,
        host,
        port: o.port,
        timeoutMs: Math.round(o.timeoutSeconds * 1000),
        bucketBytes: o.bucketBytes,
      }),
    );
    return new DistributedContext(nat, o);
  }

  /** Element-wise sum over the ranks (float64). */
  async allReduceSum(values: readonly number[] | Float64Array): Promise<Float64Array> {
    this.check();
    const data = Float64Array.from(values);
    const out = await native(() => this.native.allReduceSum({ data, shape: [data.length] }));
    return out.data;
  }

  /** Element-wise mean over the ranks. */
  async allReduceMean(values: readonly number[] | Float64Array): Promise<Float64Array> {
    return (await this.allReduceSum(values)).map((v) => v / this.worldSize);
  }

  async barrier(): Promise<void> {
    this.check();
    await native(() => this.native.barrier());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.close();
  }

  private check(): void {
    if (this.closed) throw new LiversegError('ERR_DISTRIBUTED', 'Distributed training: this context was closed');
  }
}
