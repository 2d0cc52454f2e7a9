/** File I/O, the public part: NIfTI and safetensors. */
export { loadVolume, decodeNifti } from './nifti-read';
export type { LoadVolumeOptions, DecodeNiftiOptions } from './nifti-read';
export { saveVolume, encodeNifti } from './nifti-write';
export type { SaveVolumeOptions } from './nifti-write';
export { NIFTI_DATATYPES, datatypeOf } from './nifti-header';
export type { NiftiDatatype } from './nifti-header';
export { maskLike } from './mask';
export { toFloat32, countNonFinite } from './voxels';
export { readSafetensors, writeSafetensors, decodeSafetensors, encodeSafetensors } from './safetensors';
export type { SafetensorsDtype, SafetensorsTensor, SafetensorsFile, TensorArray } from './safetensors';
