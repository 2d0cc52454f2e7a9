/** Geometry, the public part: orientation, resampling, affines and boxes. */
export { axcodes, ioOrientation, toCanonical, fromCanonical } from './orientation';
export type { AxisOrientation, CanonicalTransform } from './orientation';
export { resampleLike, resampleToSpacing, resampleToShape } from './resample';
export type { InterpolationMode, ResampleOptions, Grid } from './resample';
export { invertAffine, quaternToAffine, affineToQuatern } from './affine';
export type { Quatern } from './affine';
export { geometryFromAffine, affineFromGeometry } from './nifti-geometry';
export { boundingBox, mapBoxToFull, widenBox } from './boxes';
export type { Box, BoxSelection } from './boxes';
