/** EnsureBinaryLabel(d): label remapping to the classes a model trains on, uint8 out. */
import { invalidArg, describeValue } from '../errors';
import type { Volume } from '../volume';
import type { KeysOptions, Sample } from './types';
import { MapTransform } from './types';
import { makeVolume } from './ops';
import { cloneAffine } from '../geometry/affine';

/** Options of {@link ensureBinaryLabel}. */
export interface EnsureBinaryLabelOptions {
  /**
   * Label value -> output value (integers 0..255), e.g. `{ 2: 1 }` for tumour only. Values not listed
   * become 0. Default: every non-zero value becomes 1 (liver and tumour merged, SPEC section 4).
   */
  mapping?: Record<string, number>;
}

function checkMapping(mapping: unknown): Map<number, number> | null {
  if (mapping === undefined) return null;
  if (mapping === null || typeof mapping !== 'object' || Array.isArray(mapping)) {
    throw invalidArg('mapping', `expected an object like { "1": 1, "2": 1 }, got ${describeValue(mapping)}`);
  }
  const out = new Map<number, number>();
  for (const [k, v] of Object.entries(mapping as Record<string, unknown>)) {
    const from = Number(k);
    if (!Number.isFinite(from)) throw invalidArg('mapping', `key ${JSON.stringify(k)} is not a number`);
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 255)
      throw invalidArg('mapping', `value for ${k} must be an integer in 0..255, got ${describeValue(v)}`);
    out.set(from, v as number);
  }
  return out;
}

/** Remaps a label volume to uint8: non-zero -> 1 by default, or through `mapping` (unlisted values -> 0). */
export function ensureBinaryLabel(vol: Volume, opts: EnsureBinaryLabelOptions = {}): Volume<Uint8Array> {
  const map = checkMapping(opts.mapping);
  const src = vol.data;
  const n = src.length;
  const out = new Uint8Array(n);
  if (!map) {
    for (let i = 0; i < n; i++) out[i] = src[i] !== 0 ? 1 : 0;
  } else {
    // Labels hold a handful of distinct values: remember the last one to skip most Map lookups.
    let lastIn = NaN;
    let lastOut = 0;
    for (let i = 0; i < n; i++) {
      const v = src[i];
      if (v !== lastIn) {
        lastIn = v;
        lastOut = map.get(v) ?? 0;
      }
      out[i] = lastOut;
    }
  }
  return makeVolume(vol, out, vol.shape, vol.spacing, cloneAffine(vol.affine));
}

/** Options of {@link EnsureBinaryLabeld}. */
export type EnsureBinaryLabeldOptions = KeysOptions & EnsureBinaryLabelOptions;

/** Dictionary form of {@link ensureBinaryLabel}; typically `keys: ['label']`. */
export class EnsureBinaryLabeld extends MapTransform<EnsureBinaryLabeldOptions> {
  readonly name = 'EnsureBinaryLabeld';

  constructor(options: EnsureBinaryLabeldOptions) {
    super(options);
    checkMapping(options.mapping);
  }

  apply(sample: Sample): Sample {
    return this.mapKeys(sample, (v) => ensureBinaryLabel(v, this.options));
  }
}
