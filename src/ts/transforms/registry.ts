/**
 * Rebuilding transforms from their JSON specs, so a worker thread (or a saved config) can recreate
 * the exact chain the main thread built.
 */
import { invalidArg, describeValue } from '../errors';
import type { Transform, TransformSpec } from './types';
import { Compose } from './compose';
import { ScaleIntensityRanged } from './scale-intensity-range';
import { SpatialPadd } from './spatial-pad';
import { RandCropByPosNegLabeld } from './rand-crop-by-pos-neg-label';
import { Resized } from './resize';
import { CropForegroundd } from './crop-foreground';
import { Orientationd } from './orientation';
import { Spacingd } from './spacing';
import { RandFlipd } from './rand-flip';
import { RandRotate90d } from './rand-rotate90';
import { RandAffined } from './rand-affine';
import { RandGaussianNoised } from './rand-gaussian-noise';
import { RandScaleIntensityd } from './rand-scale-intensity';
import { RandShiftIntensityd } from './rand-shift-intensity';
import { CastToFloat32d } from './cast-to-float32';
import { EnsureBinaryLabeld } from './ensure-binary-label';

/** Builds a transform from its spec's `args`. */
export type TransformFactory = (args: Record<string, unknown>) => Transform;

// Each transform class validates its own options, so the factory hands the spec arguments through as they are.
const ctor =
  <O>(C: new (o: O) => Transform): TransformFactory =>
  (args) =>
    new C(args as O);

const registry = new Map<string, TransformFactory>([
  ['ScaleIntensityRanged', ctor(ScaleIntensityRanged)],
  ['SpatialPadd', ctor(SpatialPadd)],
  ['RandCropByPosNegLabeld', ctor(RandCropByPosNegLabeld)],
  ['Resized', ctor(Resized)],
  ['CropForegroundd', ctor(CropForegroundd)],
  ['Orientationd', ctor(Orientationd)],
  ['Spacingd', ctor(Spacingd)],
  ['RandFlipd', ctor(RandFlipd)],
  ['RandRotate90d', ctor(RandRotate90d)],
  ['RandAffined', ctor(RandAffined)],
  ['RandGaussianNoised', ctor(RandGaussianNoised)],
  ['RandScaleIntensityd', ctor(RandScaleIntensityd)],
  ['RandShiftIntensityd', ctor(RandShiftIntensityd)],
  ['CastToFloat32d', ctor(CastToFloat32d)],
  ['EnsureBinaryLabeld', ctor(EnsureBinaryLabeld)],
]);

/**
 * Registers a custom transform under `name` (its `toSpec().name`). For DataLoader worker threads,
 * do this in a module listed in the loader's `workerModules` so the workers register it too.
 */
export function registerTransform(name: string, factory: TransformFactory): void {
  if (typeof name !== 'string' || !name) throw invalidArg('name', `expected a non-empty string, got ${describeValue(name)}`);
  if (name === 'Compose') throw invalidArg('name', "'Compose' is built in");
  if (typeof factory !== 'function') throw invalidArg('factory', `expected a function, got ${describeValue(factory)}`);
  registry.set(name, factory);
}

/** The names `transformFromSpec` understands. */
export function registeredTransforms(): string[] {
  return ['Compose', ...registry.keys()];
}

/** Rebuilds a transform (or a whole Compose) from `toSpec()` output. Unknown names are ERR_INVALID_CONFIG. */
export function transformFromSpec(spec: TransformSpec): Transform {
  if (spec === null || typeof spec !== 'object' || typeof spec.name !== 'string') {
    throw invalidArg('spec', `expected { name, args }, got ${describeValue(spec)}`, 'ERR_INVALID_CONFIG');
  }
  const args = spec.args ?? {};
  if (spec.name === 'Compose') {
    const list = (args as { transforms?: unknown }).transforms;
    if (!Array.isArray(list)) throw invalidArg('spec.args.transforms', 'expected an array of specs', 'ERR_INVALID_CONFIG');
    return new Compose(list.map((s) => transformFromSpec(s as TransformSpec)));
  }
  const f = registry.get(spec.name);
  if (!f) {
    throw invalidArg('spec.name', `unknown transform ${JSON.stringify(spec.name)}; known: ${registeredTransforms().join(', ')}`, 'ERR_INVALID_CONFIG');
  }
  return f(args);
}
