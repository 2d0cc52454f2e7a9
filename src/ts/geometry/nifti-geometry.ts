/**
 * The NIfTI view of a voxel grid's geometry: from a header's qform/sform/pixdim to an affine
 * (the standard's precedence) and back. Geometry operations use it to keep a volume's header
 * true after they move its grid; io/nifti-header.ts uses it to read and write files.
 */
import type { Affine, NiftiGeometry, Vec3 } from '../volume';
import { affineToQuatern, det3, isFiniteAffine, linearPart, quaternToAffine } from './affine';

/** NIFTI_UNITS_MM in the low bits of xyzt_units. */
export const NIFTI_UNITS_MM = 2;
/** NIFTI_XFORM_SCANNER_ANAT, the code liverseg writes when it has no header to copy. */
export const NIFTI_XFORM_SCANNER_ANAT = 1;

/**
 * The voxel-to-world matrix a header describes: the sform when sform_code > 0, else the qform
 * when qform_code > 0, else diag(pixdim) (NIfTI "method 1", no offset). A singular sform is
 * skipped in favour of the next rule: such files exist (writers that zero the srows but leave
 * the code set), and a singular affine would break every geometry operation downstream.
 */
export function affineFromGeometry(g: NiftiGeometry): { affine: Affine; source: 'sform' | 'qform' | 'pixdim' } | { problem: string } {
  const zooms: Vec3 = [g.pixdim[1], g.pixdim[2], g.pixdim[3]];
  if (g.sformCode > 0) {
    const a: Affine = [[...g.srowX], [...g.srowY], [...g.srowZ], [0, 0, 0, 1]];
    if (!isFiniteAffine(a)) return { problem: `sform (code ${g.sformCode}) has non-finite values` };
    if (det3(linearPart(a)) !== 0) return { affine: a, source: 'sform' };
  }
  if (g.qformCode > 0) {
    const q = [g.quaternB, g.quaternC, g.quaternD, g.qoffsetX, g.qoffsetY, g.qoffsetZ];
    if (!q.every(Number.isFinite)) return { problem: `qform (code ${g.qformCode}) has non-finite values` };
    const a = quaternToAffine(
      { b: g.quaternB, c: g.quaternC, d: g.quaternD, qoffsetX: g.qoffsetX, qoffsetY: g.qoffsetY, qoffsetZ: g.qoffsetZ, qfac: g.pixdim[0] < 0 ? -1 : 1 },
      zooms,
    );
    if (isFiniteAffine(a)) return { affine: a, source: 'qform' };
    return { problem: `qform (code ${g.qformCode}) gives a non-finite affine` };
  }
  return {
    affine: [
      [zooms[0], 0, 0, 0],
      [0, zooms[1], 0, 0],
      [0, 0, zooms[2], 0],
      [0, 0, 0, 1],
    ],
    source: 'pixdim',
  };
}

/**
 * A NiftiGeometry describing `affine` on a grid of `shape` voxels of `spacing` mm: the sform is
 * the affine itself, the qform its nearest rigid equivalent (exact unless the affine shears).
 * From `base` (the header of the volume this one was derived from) it keeps the qform/sform
 * codes, xyzt_units, description and pixdim[4..7], so a resampled or reoriented CT keeps its
 * coordinate-space labels. Without a base, both codes are 1 (scanner anatomical, as ITK writes)
 * and units are millimetres.
 */
export function geometryFromAffine(affine: Affine, spacing: Vec3, shape: Vec3, base?: NiftiGeometry): NiftiGeometry {
  const q = affineToQuatern(affine);
  const keepCodes = base !== undefined && (base.qformCode > 0 || base.sformCode > 0);
  const tail = base ? base.pixdim.slice(4, 8) : [1, 1, 1, 1];
  while (tail.length < 4) tail.push(1);
  return {
    version: base?.version ?? 1,
    dims: [3, shape[0], shape[1], shape[2], 1, 1, 1, 1],
    pixdim: [q.qfac, spacing[0], spacing[1], spacing[2], ...tail],
    qformCode: keepCodes ? base.qformCode : NIFTI_XFORM_SCANNER_ANAT,
    sformCode: keepCodes ? base.sformCode : NIFTI_XFORM_SCANNER_ANAT,
    quaternB: q.b,
    quaternC: q.c,
    quaternD: q.d,
    qoffsetX: q.qoffsetX,
    qoffsetY: q.qoffsetY,
    qoffsetZ: q.qoffsetZ,
    srowX: [...affine[0]],
    srowY: [...affine[1]],
    srowZ: [...affine[2]],
    xyztUnits: base ? base.xyztUnits : NIFTI_UNITS_MM,
    datatype: base?.datatype ?? 0,
    sclSlope: 1,
    sclInter: 0,
    description: base?.description ?? '',
  };
}

/** The [ni, nj, nk] a geometry's dims describe (1 for axes past dim[0]). */
export function geometryShape(g: NiftiGeometry): Vec3 {
  const n = g.dims[0];
  return [g.dims[1], n >= 2 ? g.dims[2] : 1, n >= 3 ? g.dims[3] : 1];
}
