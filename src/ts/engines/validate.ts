/** Whole-volume validation of a stage: sliding windows for patch-trained models, one pass for coarse ones, DiceMetric per case. */
import type { CacheDataset } from '../data/cache-dataset';
import type { DistributedContext } from '../native/distributed';
import { maskDice } from '../metrics/dice';
import type { ResUNet } from '../nets/resunet';
import type { Vec3 } from '../volume';
import type { StagePlan } from './plan';

/**
 * Mean Dice over the validation cases whose label is not empty; 0 when every label is empty (as
 * MONAI's DiceMetric aggregates all-NaN), null only when there is nothing to validate.
 * Distributed: rank r validates cases r, r + W, ...; the sums are all-reduced, so every rank gets the same mean.
 */
export async function validateStage(net: ResUNet, valSet: CacheDataset, plan: StagePlan, overlap: number, dist?: DistributedContext): Promise<number | null> {
  const scores: number[] = [];
  const step = dist?.worldSize ?? 1;
  for (let i = dist?.rank ?? 0; i < valSet.length; i += step) {
    const [s] = await valSet.getSamples(i);
    const volume = { data: s.image.data as Float32Array, shape: s.image.shape as Vec3 };
    const pred = plan.slidingValidation
      ? await net.predictVolume(volume, { roi: plan.inputSize, overlap, blend: 'gaussian', output: 'mask' })
      : await net.predictVolume(volume, { sliding: false, output: 'mask' });
    scores.push(maskDice(pred.data, s.label!.data));
  }
  const finite = scores.filter(Number.isFinite);
  let [sum, count, total] = [finite.reduce((a, b) => a + b, 0), finite.length, scores.length];
  if (dist) [sum, count, total] = await dist.allReduceSum([sum, count, total]);
  if (total === 0) return null;
  return count ? sum / count : 0;
}
