/**
 * Synthetic abdominal CT phantoms with liver labels, for tests, demos and benchmarks where the MSD
 * data is not available. Anatomy is laid out in millimetres in the patient's RAS frame, so phantoms
 * at different spacings show the same body; the volume is then sampled slice by slice (paint,
 * in-plane blur, through-plane blur over a small ring of slices, noise) so memory stays at a few
 * slices beyond the output and a 512x512x200 phantom takes about a second.
 *
 * The stages, each usable on its own:
 *   options.ts  resolveOptions: checks PhantomOptions and decides the defaults (seeded streams)
 *   anatomy.ts  makeAnatomy: the organ layout as a plain value (no voxels)
 *   raster.ts   sliceRasterizer / rasterize: the anatomy on a voxel grid (HU before the scanner, labels)
 *   imaging.ts  scanGeometry, formImage, phantomVolumes: affine, blur, noise, int16, headers
 */
import type { Vec3, Volume } from '../../volume';
import type { PhantomOptions } from './options';
import { resolveOptions } from './options';
import type { TissueHU } from './anatomy';
import { makeAnatomy } from './anatomy';
import { sliceRasterizer } from './raster';
import { formImage, phantomVolumes, scanGeometry, toWorld } from './imaging';

export type { PhantomOptions } from './options';

/** What a phantom contains, in world (RAS mm) coordinates. */
export interface PhantomInfo {
  seed: number;
  spacing: Vec3;
  contrast: boolean;
  noiseSigma: number;
  blurSigmaMm: number;
  /** Mean tissue values (before noise and blur), HU. */
  hu: TissueHU;
  /** Centre of the liver's main (right) lobe. */
  liverCentre: Vec3;
  /** Centre of the spleen. */
  spleenCentre: Vec3;
  tumours: { centre: Vec3; radius: number; hu: number }[];
}

/** A phantom: int16 CT in HU, uint8 labels (0 background, 1 liver, 2 tumour), and what it contains. */
export interface Phantom {
  image: Volume<Int16Array>;
  label: Volume<Uint8Array>;
  info: PhantomInfo;
}

/**
 * A synthetic abdominal CT in HU (int16) with its liver label (uint8: 1 liver, 2 tumour).
 *
 * Contents: air outside an elliptic body; subcutaneous fat; a muscle wall and muscle-density inner
 * tissue; lung bases above the diaphragm; spine (vertebral bodies with discs, canal, spinous
 * processes) and obliquely running ribs; a deformed liver in the patient's right upper abdomen,
 * pressed against the body wall, with 0..3 hypodense tumours; a spleen of liver-like density on the
 * left; kidneys; the aorta; bowel gas. Then blur and Gaussian noise. The affine is a scanner's
 * LPS-style one, diag(-si, -sj, sk) with an origin, so voxel i runs towards the patient's left and j
 * towards the back, as in a DICOM series; the header has qform and sform codes 1.
 * The same options and seed give the same phantom, bit for bit.
 */
export function makePhantom(options: PhantomOptions): Phantom {
  const { options: o, geo, noise } = resolveOptions(options);
  const anatomy = makeAnatomy(o, geo);
  const { grid, affine } = scanGeometry(o.shape, o.spacing, anatomy.placement);
  const raster = sliceRasterizer(anatomy, grid);
  const image = formImage(raster.paintSlice, o.shape, o.spacing, o, noise);
  const { placement } = anatomy;
  return {
    ...phantomVolumes(image, raster.label, o.shape, o.spacing, affine, o.seed),
    info: {
      seed: o.seed,
      spacing: [...o.spacing] as Vec3,
      contrast: o.contrast,
      noiseSigma: o.noiseSigma,
      blurSigmaMm: o.blurSigmaMm,
      hu: { ...anatomy.hu },
      liverCentre: toWorld(placement, anatomy.liver.parts[0].c),
      spleenCentre: toWorld(placement, anatomy.spleen.parts[0].c),
      tumours: anatomy.tumours.map((t) => ({ centre: toWorld(placement, t.centre), radius: t.radius, hu: t.hu })),
    },
  };
}
