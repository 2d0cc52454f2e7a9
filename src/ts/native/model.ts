/** Creating a native model: the one entry point nets/ uses to reach the addon's Model class. */
import type { NativeModel, NativeModelConfig } from './binding';
import { loadBinding } from './loader';
import { native } from './tensors';

/** Builds the network and its optimizer off the JS thread; rejects with a LiversegError. */
export function createNativeModel(config: NativeModelConfig): Promise<NativeModel> {
  return native(() => loadBinding().createModel(config));
}
