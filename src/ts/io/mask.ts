import { invalidArg } from '../errors';
import { assertVolume, Volume, voxelCount } from '../volume';

/**
 * A uint8 mask volume in the geometry of `ct`: same shape, spacing, affine and header geometry
 * (qform/sform and their codes included), with the header's datatype set to uint8 and its scaling
 * to none, so `saveVolume` writes a file any viewer overlays exactly on the CT.
 * `data` is used as is (not copied) and must hold one value per CT voxel, in the CT's file order.
 */
export function maskLike(ct: Volume, data: Uint8Array): Volume<Uint8Array> {
  assertVolume(ct, 'ct');
  if (!(data instanceof Uint8Array)) throw invalidArg('data', 'expected a Uint8Array');
  const n = voxelCount(ct.shape);
  if (data.length !== n) {
    throw invalidArg('data', `has ${data.length} elements but the CT has ${ct.shape.join('x')} = ${n} voxels`, 'ERR_SHAPE_MISMATCH');
  }
  const out: Volume<Uint8Array> = {
    data,
    shape: [...ct.shape],
    spacing: [...ct.spacing],
    affine: ct.affine.map((r) => [...r]),
  };
  if (ct.header) out.header = { ...ct.header, datatype: 2, sclSlope: 1, sclInter: 0 };
  return out;
}
