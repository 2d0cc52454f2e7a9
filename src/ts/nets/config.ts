/**
 * Model configuration: the architecture (what a bundle must record to rebuild the network) and
 * how it runs (device, precision, optimizer). Validated here, before anything native runs.
 */
import { LiversegError, describeValue } from '../errors';

/** The architecture of the seed report's 3D U-Net. */
export interface ResUNetConfig {
  /** Input channels (1 for CT). Default 1. */
  inChannels?: number;
  /** Output channels, one sigmoid per class. Default 1 (liver). */
  outChannels?: number;
  /** Channels per level; the length is the number of levels. Default [16, 32, 64, 128, 256]. */
  channels?: number[];
  /** 'residual' (ResTwoLayerConvBlock, default) or 'plain' (UnetTwoLayerBlock). */
  block?: 'residual' | 'plain';
  /** Dropout probability after each normalisation. Default 0. */
  dropout?: number;
}

export interface OptimizerConfig {
  /** 'novograd' (default, as the report) or 'adam'. */
  name?: 'novograd' | 'adam';
  /** Learning rate. Default 1e-3 (MONAI's default). */
  lr?: number;
  /** [beta1, beta2]; default [0.9, 0.98] for Novograd, [0.9, 0.999] for Adam. */
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** Novograd: scale the update by (1 - beta1). Default false. */
  gradAveraging?: boolean;
  amsgrad?: boolean;
}

export interface ModelOptions extends ResUNetConfig {
  /** 'auto' (CUDA when available), 'cpu', 'cuda' or 'cuda:N'. Default: LIVERSEG_DEVICE, else 'auto'. */
  device?: string;
  /** Mixed precision on CUDA: 'auto' (bf16), 'bf16', 'fp16' or 'off'. Ignored on the CPU. */
  precision?: 'auto' | 'off' | 'bf16' | 'fp16';
  /** Seed for the initial weights. Default 0. */
  seed?: number;
  /** Keep 5D activations channels-last (can help oneDNN and cuDNN). Default false. */
  channelsLast?: boolean;
  /**
   * Dice loss and metric over channel 0 too. Default true, as MONAI; with one output channel it
   * has no effect (MONAI ignores include_background=False then, as the seed's single-channel model shows).
   */
  includeBackground?: boolean;
  optimizer?: OptimizerConfig;
}

export type ResolvedArchitecture = Required<ResUNetConfig>;

/** ScaleIntensityRange's parameters: [aMin, aMax] HU mapped to [bMin, bMax], clipped when `clip`. */
export interface IntensityWindowConfig {
  aMin: number;
  aMax: number;
  bMin: number;
  bMax: number;
  clip: boolean;
}

/** The report's window: [-300, 300] HU to [0, 1] with clipping. */
export const DEFAULT_INTENSITY: Readonly<IntensityWindowConfig> = Object.freeze({ aMin: -300, aMax: 300, bMin: 0, bMax: 1, clip: true });

/** Sliding-window inference settings a caller did not give (MONAI's defaults, and one window per pass on the CPU). */
export const SLIDING_WINDOW_DEFAULTS = Object.freeze({
  overlap: 0.25,
  blend: 'gaussian' as 'gaussian' | 'constant',
  sigmaScale: 0.125,
  batchSize: 1,
  accumulate: 'auto' as 'auto' | 'device' | 'cpu',
  /** Above this many bytes of blended output, 'auto' accumulates on the CPU instead of the device. */
  deviceLimitBytes: 4 * 2 ** 30,
  mirror: false,
});

export const DEFAULT_ARCHITECTURE: ResolvedArchitecture = {
  inChannels: 1,
  outChannels: 1,
  channels: [16, 32, 64, 128, 256],
  block: 'residual',
  dropout: 0,
};

const MODEL_KEYS = [
  'inChannels',
  'outChannels',
  'channels',
  'block',
  'dropout',
  'device',
  'precision',
  'seed',
  'channelsLast',
  'includeBackground',
  'optimizer',
];
const OPTIMIZER_KEYS = ['name', 'lr', 'betas', 'eps', 'weightDecay', 'gradAveraging', 'amsgrad'];

function configError(field: string, problem: string): LiversegError {
  return new LiversegError('ERR_INVALID_CONFIG', `Invalid config field '${field}': ${problem}`);
}

function checkKeys(obj: object, allowed: string[], prefix: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw configError(prefix + k, `unknown field (known: ${allowed.join(', ')})`);
  }
}

function intIn(v: unknown, field: string, lo: number, hi: number): number {
  if (!Number.isInteger(v) || (v as number) < lo || (v as number) > hi)
    throw configError(field, `expected an integer from ${lo} to ${hi}, got ${describeValue(v)}`);
  return v as number;
}

function numIn(v: unknown, field: string, lo: number, hi: number, hiOpen = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi || (hiOpen && v === hi)) {
    throw configError(field, `expected a number in [${lo}, ${hi}${hiOpen ? ')' : ']'}, got ${describeValue(v)}`);
  }
  return v;
}

/** Fills defaults and checks every field of an architecture. */
export function resolveArchitecture(c: ResUNetConfig = {}): ResolvedArchitecture {
  const out = { ...DEFAULT_ARCHITECTURE, ...Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) } as ResolvedArchitecture;
  intIn(out.inChannels, 'inChannels', 1, 64);
  intIn(out.outChannels, 'outChannels', 1, 64);
  if (!Array.isArray(out.channels) || out.channels.length < 2 || out.channels.length > 7) {
    throw configError('channels', `expected 2 to 7 levels, got ${describeValue(out.channels)}`);
  }
  out.channels.forEach((ch, i) => intIn(ch, `channels[${i}]`, 1, 4096));
  if (out.block !== 'residual' && out.block !== 'plain') throw configError('block', `expected 'residual' or 'plain', got ${describeValue(out.block)}`);
  numIn(out.dropout, 'dropout', 0, 1, true);
  return { inChannels: out.inChannels, outChannels: out.outChannels, channels: [...out.channels], block: out.block, dropout: out.dropout };
}

export interface ResolvedModelOptions {
  architecture: ResolvedArchitecture;
  device: string;
  precision: 'auto' | 'off' | 'bf16' | 'fp16';
  seed: number;
  channelsLast: boolean;
  includeBackground: boolean;
  optimizer: Required<OptimizerConfig>;
}

export function resolveModelOptions(o: ModelOptions = {}): ResolvedModelOptions {
  if (o === null || typeof o !== 'object') throw configError('(config)', `expected an object, got ${describeValue(o)}`);
  checkKeys(o, MODEL_KEYS, '');
  const architecture = resolveArchitecture({
    inChannels: o.inChannels,
    outChannels: o.outChannels,
    channels: o.channels,
    block: o.block,
    dropout: o.dropout,
  });
  const device = o.device ?? process.env.LIVERSEG_DEVICE ?? 'auto';
  if (typeof device !== 'string' || !/^(auto|cpu|cuda(:\d+)?)$/.test(device)) {
    throw configError('device', `expected 'auto', 'cpu', 'cuda' or 'cuda:N', got ${describeValue(device)}`);
  }
  const precision = o.precision ?? 'auto';
  if (!['auto', 'off', 'bf16', 'fp16'].includes(precision))
    throw configError('precision', `expected 'auto', 'off', 'bf16' or 'fp16', got ${describeValue(precision)}`);
  const seed = o.seed ?? 0;
  intIn(seed, 'seed', 0, Number.MAX_SAFE_INTEGER);
  const channelsLast = o.channelsLast ?? false;
  if (typeof channelsLast !== 'boolean') throw configError('channelsLast', `expected a boolean, got ${describeValue(channelsLast)}`);
  const includeBackground = o.includeBackground ?? true;
  if (typeof includeBackground !== 'boolean') throw configError('includeBackground', `expected a boolean, got ${describeValue(includeBackground)}`);
  const opt = o.optimizer ?? {};
  if (opt === null || typeof opt !== 'object') throw configError('optimizer', `expected an object, got ${describeValue(opt)}`);
  checkKeys(opt, OPTIMIZER_KEYS, 'optimizer.');
  const name = opt.name ?? 'novograd';
  if (name !== 'novograd' && name !== 'adam') throw configError('optimizer.name', `expected 'novograd' or 'adam', got ${describeValue(name)}`);
  const betas = opt.betas ?? (name === 'adam' ? [0.9, 0.999] : [0.9, 0.98]);
  if (!Array.isArray(betas) || betas.length !== 2) throw configError('optimizer.betas', `expected [beta1, beta2], got ${describeValue(betas)}`);
  betas.forEach((b, i) => numIn(b, `optimizer.betas[${i}]`, 0, 1, true));
  const optimizer: Required<OptimizerConfig> = {
    name,
    lr: numIn(opt.lr ?? 1e-3, 'optimizer.lr', 0, 1e3),
    betas: [betas[0], betas[1]],
    eps: numIn(opt.eps ?? 1e-8, 'optimizer.eps', 0, 1),
    weightDecay: numIn(opt.weightDecay ?? 0, 'optimizer.weightDecay', 0, 1e3),
    gradAveraging: opt.gradAveraging ?? false,
    amsgrad: opt.amsgrad ?? false,
  };
  if (typeof optimizer.gradAveraging !== 'boolean') throw configError('optimizer.gradAveraging', 'expected a boolean');
  if (typeof optimizer.amsgrad !== 'boolean') throw configError('optimizer.amsgrad', 'expected a boolean');
  return { architecture, device, precision, seed, channelsLast, includeBackground, optimizer };
}

/** Parameter count of an architecture, from the layer sizes alone (bias and InstanceNorm affine included). */
export function parameterCount(a: ResUNetConfig = {}): number {
  const r = resolveArchitecture(a);
  const conv = (i: number, o: number, k: number) => i * o * k ** 3 + o;
  const block = (i: number, o: number) => conv(i, o, 3) + 2 * o + conv(o, o, 3) + 2 * o + (r.block === 'residual' ? conv(i, o, 1) + 2 * o : 0);
  const ch = r.channels;
  let n = 0;
  ch.forEach((c, l) => (n += block(l === 0 ? r.inChannels : ch[l - 1], c)));
  for (let l = 0; l + 1 < ch.length; l++) n += block(ch[l] + ch[l + 1], ch[l]);
  return n + conv(ch[0], r.outChannels, 1);
}

/**
 * Bytes a forward pass of `a` at `size` voxels needs, roughly: the float32 weights plus the
 * activations alive at the widest point (each level holds its skip, its block's two outputs and
 * the decoder's concatenation, about 6 tensors of its channels). It is an estimate to refuse
 * absurd requests before LibTorch allocates, not a budget: real use stays below it on the CPU.
 */
export function estimateForwardBytes(a: ResolvedArchitecture, size: readonly number[]): number {
  const voxels = size[0] * size[1] * size[2];
  const activations = a.channels.reduce((sum, ch, l) => sum + 6 * ch * (voxels / 8 ** l), 0) + a.inChannels * voxels;
  return 4 * (parameterCount(a) + activations);
}

/** "27.6 GiB": a byte count for messages. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${n.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}
