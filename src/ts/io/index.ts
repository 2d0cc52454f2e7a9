/** File I/O and voxel-grid geometry: NIfTI, safetensors, orientation, resampling. */
export { loadVolume, decodeNifti } from './nifti-read';
export type { LoadVolumeOptions, DecodeNiftiOptions } from './nifti-read';
export { saveVolume, encodeNifti, resolveGeometry } from './nifti-write';
export type { SaveVolumeOptions } from './nifti-write';
export { NIFTI_DATATYPES, datatypeOf, geometryFromAffine, affineFromGeometry } from './nifti-header';
export type { NiftiDatatype } from './nifti-header';
export { maskLike } from './mask';
export { toFloat32, countNonFinite } from './voxels';
export { axcodes, ioOrientation, toCanonical, fromCanonical } from './orientation';
export type { AxisOrientation, CanonicalTransform } from './orientation';
export { resampleLike, resampleToSpacing, resampleToShape } from './resample';
export type { InterpolationMode, ResampleOptions, Grid } from './resample';
export { readSafetensors, writeSafetensors, decodeSafetensors, encodeSafetensors } from './safetensors';
export type { SafetensorsDtype, SafetensorsTensor, SafetensorsFile, TensorArray } from './safetensors';
export { invertAffine, matmul4, columnNorms, quaternToAffine, affineToQuatern } from './affine';
export type { Quatern } from './affine';
export { writeFileAtomic } from './atomic-write';
