/** Turning a case record into a sample: load both files, check they describe the same grid. */
import { LiversegError, describeValue } from '../errors';
import type { Volume } from '../volume';
import { assertVolume } from '../volume';
import { loadVolume } from '../io/nifti-read';
import type { Sample } from '../transforms/types';
import { sameGeometry } from '../transforms/ops';
import type { CaseRecord } from './msd';

/** Reads one volume file. The default is io's `loadVolume`. */
export type VolumeLoader = (path: string) => Promise<Volume>;

/** The loader used when a dataset is given none. */
export const defaultLoader: VolumeLoader = (p) => loadVolume(p);

function describeSource(src: string | Volume, role: string, name: string): string {
  return typeof src === 'string' ? src : `${name} (in-memory ${role})`;
}

/**
 * The untransformed sample of a case: `{ image, label?, name, imagePath?, labelPath? }`. Image and
 * label must share shape and affine (to 1e-3 relative); otherwise ERR_GEOMETRY_MISMATCH names both files.
 */
export async function loadCase(c: CaseRecord, loader: VolumeLoader = defaultLoader): Promise<Sample> {
  const get = async (src: string | Volume, role: string): Promise<Volume> => {
    if (typeof src === 'string') return loader(src);
    assertVolume(src, `${c.name}.${role}`);
    return src;
  };
  const [image, label] = await Promise.all([get(c.image, 'image'), c.label === undefined ? undefined : get(c.label, 'label')]);
  const sample: Sample = { image, name: c.name };
  if (typeof c.image === 'string') sample.imagePath = c.image;
  if (label) {
    if (!sameGeometry(image, label)) {
      const a = describeSource(c.image, 'image', c.name);
      const b = describeSource(c.label as string | Volume, 'label', c.name);
      const sameShape = image.shape.every((n, d) => n === label.shape[d]);
      const what = sameShape
        ? `affines differ (image origin ${describeValue(image.affine.slice(0, 3).map((r) => +r[3].toFixed(3)))}, label origin ${describeValue(label.affine.slice(0, 3).map((r) => +r[3].toFixed(3)))})`
        : `shapes differ (image ${image.shape.join('x')}, label ${label.shape.join('x')})`;
      throw new LiversegError('ERR_GEOMETRY_MISMATCH', `image ${a} and label ${b} do not describe the same voxel grid: ${what}`, {
        path: typeof c.image === 'string' ? c.image : undefined,
      });
    }
    sample.label = label;
    if (typeof c.label === 'string') sample.labelPath = c.label;
  }
  return sample;
}
