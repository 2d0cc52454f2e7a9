/** Loading a model from a bundle and saving one into a bundle. */
import * as nodePath from 'path';
import { ModelBundle, ModelBundleMeta, readModelBundle } from './format';
import { readBundleWeights, saveModelBundle } from './model-bundle';
import { LiversegError } from '../errors';
import { ModelOptions } from '../nets/config';
import { ResUNet } from '../nets/resunet';

export interface LoadedModel {
  net: ResUNet;
  bundle: ModelBundle;
  /** Absolute path of the bundle JSON. */
  path: string;
}

/**
 * Loads a model bundle onto a device.
 * @example
 * const { net, bundle } = await loadModel('runs/coarse/best.json', { device: 'cpu' });
 */
export async function loadModel(jsonPath: string, options: Pick<ModelOptions, 'device' | 'precision' | 'channelsLast'> = {}): Promise<LoadedModel> {
  const bundle = await readModelBundle(jsonPath);
  const weights = await readBundleWeights(jsonPath, bundle);
  const net = await ResUNet.create({ ...bundle.config, ...options });
  try {
    await net.setWeights(weights);
  } catch (e) {
    await net.dispose();
    if (e instanceof LiversegError && e.code === 'ERR_MODEL_MISMATCH') {
      throw new LiversegError('ERR_BUNDLE', `${jsonPath}: weights do not fit the architecture in the bundle (${e.message})`, { path: jsonPath, cause: e });
    }
    throw e;
  }
  return { net, bundle, path: nodePath.resolve(jsonPath) };
}

/** Saves a model's current weights as a bundle at `jsonPath`. */
export async function saveModel(jsonPath: string, net: ResUNet, meta: ModelBundleMeta): Promise<ModelBundle> {
  return saveModelBundle(jsonPath, net.architecture, await net.getWeights(), meta);
}
