/** Transforms: array forms (functions on one Volume), dictionary forms (classes on sample keys), Compose and the spec registry. */
export * from './types';
export {
  allocLike,
  cropData,
  cropVolume,
  shiftOrigin,
  spacingFromAffine,
  sameGeometry,
  axisMapVolume,
} from './ops';
export type { AxisMap } from './ops';
export * from './compose';
export * from './registry';
export * from './scale-intensity-range';
export * from './spatial-pad';
export * from './rand-crop-by-pos-neg-label';
export * from './resize';
export * from './crop-foreground';
export * from './orientation';
export * from './spacing';
export * from './rand-flip';
export * from './rand-rotate90';
export type { InterpolationMode as AffineInterpolationMode } from './rand-affine';
export {
  affineResample,
  affineVoxelMap,
  applyAffineParams,
  identityAffineParams,
  randAffine,
  randAffineParams,
  RandAffined,
} from './rand-affine';
export type { AffineParams, RandAffineOptions, RandAffinedOptions } from './rand-affine';
export * from './rand-gaussian-noise';
export * from './rand-scale-intensity';
export * from './rand-shift-intensity';
export * from './cast-to-float32';
export * from './ensure-binary-label';
