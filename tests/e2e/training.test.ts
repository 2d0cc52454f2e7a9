import { promises as fsp } from 'fs';
import * as path from 'path';
import { readModelBundle, readPipeline } from '../../src/ts/bundle';
import { trainConfigSchema, TRAIN_FIELDS, defaultTrainConfig } from '../../src/ts/engines/config';
import { TrainedPipeline, trainedPipeline, TRAIN_SETTINGS } from '../helpers/trained-pipeline';

async function metrics(file: string): Promise<Array<{ epoch: number; loss: number; lr: number; dice: number | null; voxelsPerSecond: number }>> {
  return (await fsp.readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

describe('two-stage training on phantoms (real learning, CPU-sized)', () => {
  let tp: TrainedPipeline;
  beforeAll(async () => {
    tp = await trainedPipeline();
  }, 1800000);

  it.each(['coarse', 'fine'])('the %s model reaches validation Dice > 0.85 on held-out phantoms, and its loss falls', async (stage) => {
    const s = tp.result.stages.find((x) => x.stage === stage)!;
    expect(s).toBeDefined();
    expect(s.bestDice).toBeGreaterThan(0.85);
    expect(s.epochsRun).toBe(TRAIN_SETTINGS.epochs);
    const rows = await metrics(path.join(path.dirname(s.bundle), 'metrics.jsonl'));
    expect(rows.map((r) => r.epoch)).toEqual(Array.from({ length: TRAIN_SETTINGS.epochs }, (_, i) => i + 1));
    const firstThree = rows.slice(0, 3).reduce((a, r) => a + r.loss, 0) / 3;
    const lastThree = rows.slice(-3).reduce((a, r) => a + r.loss, 0) / 3;
    expect(lastThree).toBeLessThan(firstThree * 0.6);
    // validated every valInterval epochs and after the last
    expect(rows.filter((r) => r.dice !== null).map((r) => r.epoch)).toEqual([5, 10, 15, 20]);
    expect(rows.every((r) => r.voxelsPerSecond > 0)).toBe(true);
    const bundle = await readModelBundle(s.bundle);
    expect(bundle.stage).toBe(stage);
    expect(bundle.validation!.dice).toBeCloseTo(s.bestDice!, 10);
    expect(bundle.config.channels).toEqual(TRAIN_SETTINGS.channels);
    expect(bundle.inputSize).toEqual(stage === 'coarse' ? TRAIN_SETTINGS.coarseSize : TRAIN_SETTINGS.patchSize);
    expect(bundle.intensity).toMatchObject({ aMin: -300, aMax: 300, bMin: 0, bMax: 1 });
    if (stage === 'fine') expect(bundle.roiMargin).toBe(TRAIN_SETTINGS.margin);
    await expect(fsp.readFile(path.join(path.dirname(s.bundle), 'metrics.svg'), 'utf8')).resolves.toMatch(/<svg[\s\S]*polyline/);
  });

  it('writes a pipeline naming both bundles and the margin', async () => {
    const p = await readPipeline(tp.pipeline);
    expect(p.margin).toBe(TRAIN_SETTINGS.margin);
    expect((await readModelBundle(p.coarsePath)).stage).toBe('coarse');
    expect((await readModelBundle(p.finePath)).stage).toBe('fine');
  });

  it("has defaults equal to the report's recipe and a schema listing every field", () => {
    const d = defaultTrainConfig();
    expect(d).toMatchObject({
      channels: [16, 32, 64, 128, 256],
      block: 'residual',
      optimizer: 'novograd',
      lr: 0.008,
      scheduler: 'cosine-restarts',
      t0: 5,
      tMult: 3,
      patchSize: [128, 128, 128],
      cropsPerVolume: 4,
      batchSize: 1,
      margin: 30,
      aMin: -300,
      aMax: 300,
    });
    const schema = trainConfigSchema() as { properties: Record<string, unknown>; additionalProperties: boolean };
    expect(schema.additionalProperties).toBe(false);
    for (const k of Object.keys(TRAIN_FIELDS)) expect(schema.properties[k]).toBeDefined();
  });
});
