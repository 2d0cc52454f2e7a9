import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { loadVolume } from '../../src/ts/io/nifti-read';
import { toCanonical } from '../../src/ts/geometry/orientation';
import { writePhantomDataset } from '../../src/ts/data/phantom-dataset';
import { prepareDatasets, labelBox } from '../../src/ts/engines/prepare';
import { cropData } from '../../src/ts/transforms/ops';

describe('liverseg-prepare', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'liverseg-prepare-'));
    await writePhantomDataset(path.join(dir, 'data'), { count: 3, shape: [64, 56, 24], seed: 3 });
  });
  afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

  it('writes resized and foreground MSD folders; the recorded box maps each crop back exactly', async () => {
    const events: string[] = [];
    const r = await prepareDatasets(path.join(dir, 'data'), path.join(dir, 'out'), {
      coarseSize: [32, 32, 16],
      margin: 4,
      onCase: (e) => events.push(e.status),
    });
    expect(r).toMatchObject({ done: 3, skipped: 0, failed: [] });
    expect(events).toEqual(['done', 'done', 'done']);
    const resized = JSON.parse(await fsp.readFile(path.join(r.resized!, 'dataset.json'), 'utf8'));
    const fg = JSON.parse(await fsp.readFile(path.join(r.foreground!, 'dataset.json'), 'utf8'));
    expect(resized.training).toHaveLength(3);
    const ri = await loadVolume(path.join(r.resized!, resized.training[0].image));
    const rl = await loadVolume(path.join(r.resized!, resized.training[0].label));
    expect(ri.shape).toEqual([32, 32, 16]);
    expect(rl.data.constructor.name).toBe('Uint8Array');
    expect(new Set(rl.data)).toEqual(new Set([0, 1, 2].filter((v) => rl.data.includes(v))));

    const src = JSON.parse(await fsp.readFile(path.join(dir, 'data', 'dataset.json'), 'utf8'));
    const label = toCanonical(await loadVolume(path.join(dir, 'data', src.training[0].label))).volume;
    const image = toCanonical(await loadVolume(path.join(dir, 'data', src.training[0].image))).volume;
    const box = fg.training[0].box;
    expect(box).toEqual({ ...labelBox(label, 4), sourceShape: label.shape });
    const crop = await loadVolume(path.join(r.foreground!, fg.training[0].image));
    const size = [0, 1, 2].map((a) => box.end[a] - box.start[a]);
    expect(crop.shape).toEqual(size);
    expect(Buffer.from(crop.data.buffer).equals(Buffer.from(cropData(image.data, image.shape, box.start, size as never).buffer))).toBe(true);
    // every liver voxel of the case is inside the crop
    const fgLabel = await loadVolume(path.join(r.foreground!, fg.training[0].label));
    const count = (a: ArrayLike<number>) => Array.from(a).filter((v) => v !== 0).length;
    expect(count(fgLabel.data)).toBe(count(label.data));
  });

  it('skips cases already done, and reports a bad case without stopping the others', async () => {
    const again = await prepareDatasets(path.join(dir, 'data'), path.join(dir, 'out'), { coarseSize: [32, 32, 16], margin: 4 });
    expect(again).toMatchObject({ done: 0, skipped: 3 });
    // break one case's label (truncate it) in a copy of the data
    const copy = path.join(dir, 'broken');
    await fsp.cp(path.join(dir, 'data'), copy, { recursive: true });
    const ds = JSON.parse(await fsp.readFile(path.join(copy, 'dataset.json'), 'utf8'));
    const bad = path.join(copy, ds.training[1].label);
    await fsp.writeFile(bad, (await fsp.readFile(bad)).subarray(0, 100));
    const cli = path.join(__dirname, '..', '..', 'lib', 'cli', 'prepare.js');
    const res = spawnSync(process.execPath, [cli, '--data', copy, '--out', path.join(dir, 'out2'), '--coarse-size', '32,32,16', '--margin', '4'], {
      encoding: 'utf8',
    });
    expect(res.status).toBe(1);
    expect(res.stdout).toMatch(/2 written, 0 skipped, 1 failed/);
    expect(res.stderr).toContain(path.basename(bad, '.nii.gz'));
  });
});
