/**
 * Transforms, the public part: each transform's array form (a function on one Volume) and its
 * dictionary form (a class on sample keys), Compose, and the spec registry. The helpers the
 * transforms share (crops, axis maps, parameter draws) stay internal to this folder.
 */
export type { Sample, Transform, TransformOutput, TransformSpec, KeysOptions } from './types';
export { MapTransform } from './types';
export { Compose } from './compose';
export { registerTransform, registeredTransforms, transformFromSpec } from './registry';
export type { TransformFactory } from './registry';
export { scaleIntensityRange, ScaleIntensityRanged } from './scale-intensity-range';
export type { ScaleIntensityRangeOptions, ScaleIntensityRangedOptions } from './scale-intensity-range';
export { spatialPad, SpatialPadd } from './spatial-pad';
export type { SpatialPadOptions, SpatialPaddOptions } from './spatial-pad';
export { randCropByPosNegLabel, RandCropByPosNegLabeld } from './rand-crop-by-pos-neg-label';
export type { RandCropByPosNegLabelOptions, RandCropByPosNegLabeldOptions } from './rand-crop-by-pos-neg-label';
export { resize, Resized } from './resize';
export type { ResizeMode, ResizeOptions, ResizedOptions } from './resize';
export { cropForeground, foregroundBox, pasteBack, CropForegroundd } from './crop-foreground';
export type { CropForegroundOptions, CropForegrounddOptions, StoredBox } from './crop-foreground';
export { orientation, Orientationd } from './orientation';
export type { OrientationdOptions } from './orientation';
export { spacing, Spacingd } from './spacing';
export type { SpacingMode, SpacingOptions, SpacingdOptions } from './spacing';
export { flip, randFlip, RandFlipd } from './rand-flip';
export type { RandFlipOptions, RandFlipdOptions } from './rand-flip';
export { rotate90, randRotate90, RandRotate90d } from './rand-rotate90';
export type { RandRotate90Options, RandRotate90dOptions } from './rand-rotate90';
export { randAffine, RandAffined } from './rand-affine';
export type { AffineParams, RandAffineOptions, RandAffinedOptions, InterpolationMode as AffineInterpolationMode } from './rand-affine';
export { addGaussianNoise, randGaussianNoise, RandGaussianNoised } from './rand-gaussian-noise';
export type { RandGaussianNoiseOptions, RandGaussianNoisedOptions } from './rand-gaussian-noise';
export { scaleIntensity, randScaleIntensity, RandScaleIntensityd } from './rand-scale-intensity';
export type { RandScaleIntensityOptions, RandScaleIntensitydOptions } from './rand-scale-intensity';
export { shiftIntensity, randShiftIntensity, RandShiftIntensityd } from './rand-shift-intensity';
export type { RandShiftIntensityOptions, RandShiftIntensitydOptions } from './rand-shift-intensity';
export { castToFloat32, CastToFloat32d } from './cast-to-float32';
export type { CastToFloat32dOptions } from './cast-to-float32';
export { ensureBinaryLabel, EnsureBinaryLabeld } from './ensure-binary-label';
export type { EnsureBinaryLabelOptions, EnsureBinaryLabeldOptions } from './ensure-binary-label';
