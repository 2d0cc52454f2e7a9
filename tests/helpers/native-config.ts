/** A complete raw-binding model config (every field the addon requires), for tests that call the binding directly. */
import type { NativeModelConfig, NativeOptimizerConfig } from '../../src/ts/native/binding';

export const RAW_OPTIMIZER: NativeOptimizerConfig = {
  name: 'novograd',
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.98,
  eps: 1e-8,
  weightDecay: 0,
  gradAveraging: false,
  amsgrad: false,
};

export function rawModelConfig(over: Partial<NativeModelConfig> = {}): NativeModelConfig {
  return {
    inChannels: 1,
    outChannels: 1,
    channels: [4, 8],
    block: 'residual',
    dropout: 0,
    device: 'cpu',
    precision: 'auto',
    seed: 0,
    channelsLast: false,
    includeBackground: true,
    optimizer: { ...RAW_OPTIMIZER },
    ...over,
  };
}
