/**
 * Learning-rate schedules stepped once per epoch, driven from TypeScript: before epoch e
 * (0-based) the trainer sets `lrForEpoch(e)`. Each is a pure function of the epoch, so a resumed
 * run needs only the epoch number to continue exactly.
 */
import { LiversegError } from '../errors';

export type SchedulerConfig =
  | { name: 'cosine-restarts'; t0: number; tMult: number; etaMin?: number }
  | { name: 'warmup-cosine'; warmupEpochs: number; etaMin?: number }
  | { name: 'constant' };

export interface LrSchedule {
  /** Learning rate for 0-based epoch e (that is, after e scheduler steps). */
  lrForEpoch(e: number): number;
  readonly config: SchedulerConfig;
}

/**
 * PyTorch's CosineAnnealingWarmRestarts: lr = etaMin + (base - etaMin)(1 + cos(pi T_cur / T_i)) / 2,
 * T_cur counting epochs since the last restart, T_i growing by T_mult at each restart.
 */
export function cosineRestarts(base: number, t0: number, tMult: number, etaMin = 0): LrSchedule {
  if (!Number.isInteger(t0) || t0 < 1)
    throw new LiversegError('ERR_INVALID_CONFIG', `Invalid config field 'scheduler.t0': expected an integer >= 1, got ${t0}`);
  if (!Number.isInteger(tMult) || tMult < 1)
    throw new LiversegError('ERR_INVALID_CONFIG', `Invalid config field 'scheduler.tMult': expected an integer >= 1, got ${tMult}`);
  return {
    config: { name: 'cosine-restarts', t0, tMult, etaMin },
    lrForEpoch(e: number): number {
      let tCur = e;
      let tI = t0;
      while (tCur >= tI) {
        tCur -= tI;
        tI *= tMult;
      }
      return etaMin + ((base - etaMin) * (1 + Math.cos((Math.PI * tCur) / tI))) / 2;
    },
  };
}

/** Linear warm-up from base / warmupEpochs to base, then one cosine decay to etaMin at the last epoch. */
export function warmupCosine(base: number, warmupEpochs: number, totalEpochs: number, etaMin = 0): LrSchedule {
  if (!Number.isInteger(warmupEpochs) || warmupEpochs < 0) {
    throw new LiversegError('ERR_INVALID_CONFIG', `Invalid config field 'scheduler.warmupEpochs': expected an integer >= 0, got ${warmupEpochs}`);
  }
  return {
    config: { name: 'warmup-cosine', warmupEpochs, etaMin },
    lrForEpoch(e: number): number {
      if (e < warmupEpochs) return (base * (e + 1)) / warmupEpochs;
      const span = Math.max(1, totalEpochs - warmupEpochs);
      const t = Math.min(1, (e - warmupEpochs) / span);
      return etaMin + ((base - etaMin) * (1 + Math.cos(Math.PI * t))) / 2;
    },
  };
}

export function constantLr(base: number): LrSchedule {
  return { config: { name: 'constant' }, lrForEpoch: () => base };
}

export function makeSchedule(config: SchedulerConfig, base: number, totalEpochs: number): LrSchedule {
  switch (config.name) {
    case 'cosine-restarts':
      return cosineRestarts(base, config.t0, config.tMult, config.etaMin ?? 0);
    case 'warmup-cosine':
      return warmupCosine(base, config.warmupEpochs, totalEpochs, config.etaMin ?? 0);
    case 'constant':
      return constantLr(base);
  }
}
