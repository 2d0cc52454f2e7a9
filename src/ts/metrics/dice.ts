import { invalidArg } from '../errors';

/** Dice of two binary masks on the same grid (non-zero = foreground); NaN when the reference is empty. */
export function maskDice(pred: ArrayLike<number>, reference: ArrayLike<number>): number {
  if (pred.length !== reference.length) {
    throw invalidArg('reference', `has ${reference.length} voxels but the prediction has ${pred.length}: masks must share one grid`, 'ERR_SHAPE_MISMATCH');
  }
  let inter = 0,
    p = 0,
    g = 0;
  for (let i = 0; i < pred.length; i++) {
    const a = pred[i] !== 0 ? 1 : 0;
    const b = reference[i] !== 0 ? 1 : 0;
    inter += a & b;
    p += a;
    g += b;
  }
  return g === 0 ? NaN : (2 * inter) / (p + g);
}
