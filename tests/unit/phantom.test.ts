import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadMsdDataset, makePhantom, writePhantomDataset } from '../../src/ts/data';
import { phantomCaseSeed } from '../../src/ts/data/phantom-dataset';
import type { Phantom } from '../../src/ts/data';
import { main as phantomsCli } from '../../src/ts/cli/phantoms';
import { loadVolume } from '../../src/ts/io';
import { axcodes } from '../../src/ts/geometry';
import type { Volume } from '../../src/ts/volume';
import { resolveOptions } from '../../src/ts/data/phantom/options';
import { makeAnatomy, liverContains } from '../../src/ts/data/phantom/anatomy';
import { rasterize } from '../../src/ts/data/phantom/raster';
import { formImage, phantomVolumes, scanGeometry, volumeSource } from '../../src/ts/data/phantom/imaging';
import { Rng } from '../../src/ts/util/rng';

function worldOf(v: Volume, n: number): [number, number, number] {
  const [ni, nj] = v.shape;
  const i = n % ni;
  const j = Math.floor(n / ni) % nj;
  const k = Math.floor(n / (ni * nj));
  const a = v.affine;
  return [0, 1, 2].map((r) => a[r][0] * i + a[r][1] * j + a[r][2] * k + a[r][3]) as [number, number, number];
}

function labelStats(p: Phantom, value: number): { count: number; meanHU: number; centroid: [number, number, number] } {
  let count = 0;
  let hu = 0;
  const c = [0, 0, 0];
  p.label.data.forEach((l, n) => {
    if (l !== value) return;
    count++;
    hu += p.image.data[n];
    const w = worldOf(p.label, n);
    for (let d = 0; d < 3; d++) c[d] += w[d];
  });
  return { count, meanHU: hu / count, centroid: c.map((x) => x / count) as [number, number, number] };
}

describe('makePhantom', () => {
  const p = makePhantom({ shape: [96, 96, 48], seed: 4, tumours: 3, fovShift: [0, 0, 0] });

  test('is deterministic by seed', () => {
    const q = makePhantom({ shape: [96, 96, 48], seed: 4, tumours: 3, fovShift: [0, 0, 0] });
    expect(Buffer.from(q.image.data.buffer).equals(Buffer.from(p.image.data.buffer))).toBe(true);
    expect(Buffer.from(q.label.data.buffer).equals(Buffer.from(p.label.data.buffer))).toBe(true);
    expect(q.info).toEqual(p.info);
    const r = makePhantom({ shape: [96, 96, 48], seed: 5, tumours: 3, fovShift: [0, 0, 0] });
    expect(Buffer.from(r.image.data.buffer).equals(Buffer.from(p.image.data.buffer))).toBe(false);
  });

  test('types, label values and a scanner-like LPS affine with qform/sform codes', () => {
    expect(p.image.data).toBeInstanceOf(Int16Array);
    expect(p.label.data).toBeInstanceOf(Uint8Array);
    expect(new Set(p.label.data)).toEqual(new Set([0, 1, 2]));
    expect(axcodes(p.image.affine)).toBe('LPS');
    const s = p.info.spacing;
    expect(p.image.spacing).toEqual(s);
    expect(p.image.affine[0][0]).toBe(-s[0]);
    expect(p.image.affine[1][1]).toBe(-s[1]);
    expect(p.image.affine[2][2]).toBe(s[2]);
    expect(p.image.header?.qformCode).toBe(1);
    expect(p.image.header?.sformCode).toBe(1);
    expect(p.label.affine).toEqual(p.image.affine);
  });

  test('tissue values are in their HU ranges', () => {
    const { hu } = p.info;
    // Air in the corners (outside the body).
    let air = 0;
    for (let k = 0; k < 48; k++) for (const n of [0, 95, 95 * 96, 96 * 96 - 1]) air += p.image.data[k * 96 * 96 + n];
    expect(air / (48 * 4)).toBeGreaterThan(-1030);
    expect(air / (48 * 4)).toBeLessThan(-960);
    const liver = labelStats(p, 1);
    expect(Math.abs(liver.meanHU - hu.liver)).toBeLessThan(12);
    expect(hu.liver).toBeGreaterThanOrEqual(50);
    expect(hu.liver).toBeLessThanOrEqual(115);
    const tumour = labelStats(p, 2);
    expect(tumour.count).toBeGreaterThan(0);
    expect(tumour.meanHU).toBeGreaterThan(10);
    expect(tumour.meanHU).toBeLessThan(55);
    expect(tumour.meanHU).toBeLessThan(liver.meanHU - 10);
    let bone = 0;
    let fat = 0;
    let max = -Infinity;
    let min = Infinity;
    for (const v of p.image.data) {
      if (v >= 300) bone++;
      if (v >= -140 && v <= -60) fat++;
      if (v > max) max = v;
      if (v < min) min = v;
    }
    expect(bone).toBeGreaterThan(100);
    expect(max).toBeGreaterThan(600);
    expect(max).toBeLessThanOrEqual(3071);
    expect(min).toBeGreaterThanOrEqual(-1024);
    expect(fat / p.image.data.length).toBeGreaterThan(0.02);
  });

  test('the liver is on the patient right (RAS +x) of the spleen, which has liver-like density', () => {
    const liver = labelStats(p, 1);
    expect(liver.centroid[0]).toBeGreaterThan(p.info.spleenCentre[0] + 50);
    expect(p.info.liverCentre[0]).toBeGreaterThan(p.info.spleenCentre[0]);
    // Check the spleen is really in the image where the info says (mean over a small box).
    const a = p.image.affine;
    const c = p.info.spleenCentre;
    const i = Math.round((c[0] - a[0][3]) / a[0][0]);
    const j = Math.round((c[1] - a[1][3]) / a[1][1]);
    const k = Math.round((c[2] - a[2][3]) / a[2][2]);
    let s = 0;
    let n = 0;
    for (let dk = -1; dk <= 1; dk++)
      for (let dj = -1; dj <= 1; dj++)
        for (let di = -1; di <= 1; di++) {
          s += p.image.data[i + di + 96 * (j + dj + 96 * (k + dk))];
          n++;
        }
    expect(Math.abs(s / n - p.info.hu.spleen)).toBeLessThan(25);
    expect(Math.abs(p.info.hu.spleen - p.info.hu.liver)).toBeLessThanOrEqual(10);
    // Patient right is image left: small i.
    expect(i).toBeGreaterThan(48);
  });

  test('tumours are labelled 2 inside the liver', () => {
    const [ni, nj, nk] = p.label.shape;
    const l = p.label.data;
    let liverNeighbours = 0;
    let otherNeighbours = 0;
    for (let k = 1; k < nk - 1; k++)
      for (let j = 1; j < nj - 1; j++)
        for (let i = 1; i < ni - 1; i++) {
          const n = i + ni * (j + nj * k);
          if (l[n] !== 2) continue;
          for (const d of [1, -1, ni, -ni, ni * nj, -ni * nj]) {
            if (l[n + d] === 1) liverNeighbours++;
            else if (l[n + d] === 0) otherNeighbours++;
          }
        }
    expect(liverNeighbours).toBeGreaterThan(3 * otherNeighbours);
    for (const t of p.info.tumours) {
      expect(t.hu).toBeGreaterThanOrEqual(20);
      expect(t.hu).toBeLessThanOrEqual(40);
      const a = p.label.affine;
      const idx = [0, 1, 2].map((d) => Math.round((t.centre[d] - a[d][3]) / a[d][d]));
      if (!idx.every((x, d) => x >= 0 && x < p.label.shape[d])) continue;
      // The voxels around each tumour centre include tumour.
      let found = false;
      for (let dk = -1; dk <= 1; dk++)
        for (let dj = -1; dj <= 1; dj++)
          for (let di = -1; di <= 1; di++) {
            const q = [idx[0] + di, idx[1] + dj, idx[2] + dk];
            if (q.every((x, d) => x >= 0 && x < p.label.shape[d]) && l[q[0] + ni * (q[1] + nj * q[2])] === 2) found = true;
          }
      expect(found).toBe(true);
    }
    expect(p.info.tumours).toHaveLength(3);
    const none = makePhantom({ shape: [48, 48, 24], seed: 4, tumours: 0 });
    expect(none.label.data.includes(2)).toBe(false);
  });

  test('geometry is in millimetres: the same anatomy at different spacings', () => {
    const coarse = makePhantom({ shape: [80, 80, 40], spacing: [5, 5, 7.5], seed: 8, fovShift: [0, 0, 0] });
    const fine = makePhantom({ shape: [160, 160, 100], spacing: [2.5, 2.5, 3], seed: 8, fovShift: [0, 0, 0] });
    const ml = (q: Phantom) => ((labelStats(q, 1).count + labelStats(q, 2).count) * q.info.spacing.reduce((a, b) => a * b, 1)) / 1000;
    expect(ml(coarse)).toBeGreaterThan(800);
    expect(ml(coarse)).toBeLessThan(3000);
    expect(Math.abs(ml(coarse) - ml(fine)) / ml(fine)).toBeLessThan(0.08);
    const cc = labelStats(coarse, 1).centroid;
    const cf = labelStats(fine, 1).centroid;
    cc.forEach((x, d) => expect(Math.abs(x - cf[d])).toBeLessThan(8));
    expect(coarse.info.hu).toEqual(fine.info.hu);
  });

  test('spacing defaults to a clinical field of view; the liver is sometimes cut by the edge', () => {
    const big = makePhantom({ shape: [512, 512, 2], seed: 1 });
    expect(big.info.spacing[0]).toBeGreaterThanOrEqual(0.58);
    expect(big.info.spacing[0]).toBeLessThanOrEqual(0.9);
    let cut = 0;
    for (let seed = 0; seed < 16; seed++) {
      const q = makePhantom({ shape: [32, 32, 24], seed });
      const z = q.info.spacing[2] * 24;
      expect(z).toBeGreaterThanOrEqual(199);
      expect(z).toBeLessThanOrEqual(401);
      const plane = 32 * 32;
      const first = q.label.data.subarray(0, plane).some((v) => v > 0);
      const last = q.label.data.subarray(23 * plane).some((v) => v > 0);
      if (first || last) cut++;
      expect(q.label.data.some((v) => v === 1)).toBe(true);
    }
    expect(cut).toBeGreaterThan(0);
    expect(cut).toBeLessThan(16);
  });
});

describe('writePhantomDataset and the CLI', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'liverseg-phantoms-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('writes an MSD folder that loadMsdDataset reads back, voxel for voxel', async () => {
    const out = path.join(dir, 'ds');
    const res = await writePhantomDataset(out, { count: 2, shape: [32, 28, 12], seed: 7 });
    const msd = await loadMsdDataset(out);
    expect(msd.training.map((c) => c.name)).toEqual(['phantom_000', 'phantom_001']);
    expect(msd.training).toEqual(res.cases);
    expect(msd.labels).toEqual({ '0': 'background', '1': 'liver', '2': 'cancer' });
    const img = await loadVolume(msd.training[1].image as string);
    const lab = await loadVolume(msd.training[1].label as string);
    const ref = makePhantom({ shape: [32, 28, 12], seed: phantomCaseSeed(7, 1) });
    expect(img.data).toBeInstanceOf(Int16Array);
    expect(Array.from(img.data)).toEqual(Array.from(ref.image.data));
    expect(Array.from(lab.data)).toEqual(Array.from(ref.label.data));
    expect(img.header?.qformCode).toBe(1);
    expect(img.header?.sformCode).toBe(1);
    img.affine.forEach((r, i) => r.forEach((x, c) => expect(x).toBeCloseTo(ref.image.affine[i][c], 4)));
  });

  test('liverseg-phantoms parses its arguments and writes the folder', async () => {
    const writes: string[] = [];
    const out = jest.spyOn(process.stdout, 'write').mockImplementation((s) => (writes.push(String(s)), true));
    const err = jest.spyOn(process.stderr, 'write').mockImplementation((s) => (writes.push(String(s)), true));
    try {
      const target = path.join(dir, 'cli');
      expect(await phantomsCli(['--out', target, '--count', '2', '--size', '24,24,12', '--seed', '3', '--spacing=4,4,6'])).toBe(0);
      expect(fs.existsSync(path.join(target, 'imagesTr', 'phantom_001.nii.gz'))).toBe(true);
      const msd = await loadMsdDataset(target);
      const v = await loadVolume(msd.training[0].image as string);
      expect(v.shape).toEqual([24, 24, 12]);
      v.spacing.forEach((s, d) => expect(s).toBeCloseTo([4, 4, 6][d], 5));
      expect(writes.join('')).toMatch(/Wrote 2 phantoms/);
      expect(await phantomsCli(['--count', '2'])).toBe(2);
      expect(await phantomsCli(['--out', target, '--size', '24,24'])).toBe(2);
      expect(await phantomsCli(['--out', target, '--bogus'])).toBe(2);
      expect(writes.join('')).toMatch(/unknown option '--bogus'/);
      expect(await phantomsCli(['--help'])).toBe(0);
      expect(writes.join('')).toMatch(/Usage: liverseg-phantoms/);
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  });
});

describe('phantom stages', () => {
  const stages = (seed: number, extra: Record<string, unknown> = {}) => {
    const { options, geo, noise } = resolveOptions({ shape: [40, 36, 24], seed, fovShift: [0, 0, 0], ...extra });
    const anatomy = makeAnatomy(options, geo);
    const { grid, affine } = scanGeometry(options.shape, options.spacing, anatomy.placement);
    return { options, noise, anatomy, grid, affine };
  };

  test('resolveOptions checks the options and decides every default from the seed', () => {
    const a = resolveOptions({ shape: [8, 8, 4], seed: 2 }).options;
    expect(resolveOptions({ shape: [8, 8, 4], seed: 2 }).options).toEqual(a);
    expect(a.fovShift).toBeNull();
    expect(a.tumours).toBeGreaterThanOrEqual(0);
    expect(a.tumours).toBeLessThanOrEqual(3);
    const b = resolveOptions({ shape: [8, 8, 4], spacing: [1, 2, 3], contrast: false, tumours: 1, noiseSigma: 0, blurSigmaMm: 0, fovShift: [1, 2, 3] }).options;
    expect(b).toEqual({ shape: [8, 8, 4], spacing: [1, 2, 3], seed: 0, contrast: false, tumours: 1, noiseSigma: 0, blurSigmaMm: 0, fovShift: [1, 2, 3] });
    expect(() => resolveOptions({ shape: [8, 8] })).toThrow(/shape/);
    expect(() => resolveOptions({ shape: [8, 8, 4], tumours: 4 })).toThrow(/tumours/);
  });

  test('the anatomy is a plain, JSON-serialisable value, deterministic per seed', () => {
    const { anatomy } = stages(3);
    expect(JSON.parse(JSON.stringify(anatomy))).toStrictEqual(anatomy);
    expect(stages(3).anatomy).toStrictEqual(anatomy);
    expect(stages(4).anatomy).not.toEqual(anatomy);
    // The noise level (when given) is drawn from another stream: the anatomy stays the same.
    expect(stages(3, { noiseSigma: 5 }).anatomy).toStrictEqual(stages(3, { noiseSigma: 30 }).anatomy);
    expect(anatomy.liver.parts[0].c[0]).toBeGreaterThan(anatomy.spleen.parts[0].c[0]);
  });

  test('the raster puts the liver label where the anatomy says', () => {
    const { anatomy, grid } = stages(5, { tumours: 2 });
    const { hu, label } = rasterize(anatomy, grid);
    const [ni, nj, nk] = grid.shape;
    let count = 0;
    let mismatches = 0;
    for (let k = 0, n = 0; k < nk; k++)
      for (let j = 0; j < nj; j++)
        for (let i = 0; i < ni; i++, n++) {
          const x = grid.origin[0] - grid.spacing[0] * i;
          const y = grid.origin[1] - grid.spacing[1] * j;
          const z = grid.origin[2] + grid.spacing[2] * k;
          if (label[n] > 0) count++;
          if (liverContains(anatomy, x, y, z) !== label[n] > 0) mismatches++;
          if (label[n] === 1) expect(hu[n]).toBe(Math.fround(anatomy.hu.liver));
        }
    expect(count).toBeGreaterThan(500);
    // Same shapes, differently ordered arithmetic: at most a few boundary voxels may differ.
    expect(mismatches).toBeLessThanOrEqual(Math.ceil(count * 0.002));
    expect(new Set(label)).toEqual(new Set([0, 1, 2]));
    // A round trip through JSON rasterises to the same voxels.
    const again = rasterize(JSON.parse(JSON.stringify(anatomy)), grid);
    expect(Buffer.from(again.label).equals(Buffer.from(label))).toBe(true);
    expect(Buffer.from(again.hu.buffer).equals(Buffer.from(hu.buffer))).toBe(true);
  });

  test('imaging without noise or blur leaves the HU unchanged (rounded, clipped to int16 CT range)', () => {
    const shape: [number, number, number] = [5, 4, 3];
    const hu = Float32Array.from({ length: 60 }, (_, n) => (n === 0 ? -2000 : n === 1 ? 5000 : ((n * 37) % 200) - 100 + 0.25));
    const image = formImage(volumeSource(hu, shape), shape, [1, 1, 1], { noiseSigma: 0, blurSigmaMm: 0 }, new Rng(1));
    expect(Array.from(image)).toEqual(Array.from(hu, (v) => Math.min(3071, Math.max(-1024, Math.floor(v + 0.5)))));
    // Blur keeps a uniform image uniform; noise has the requested spread.
    const flat = new Float32Array(32 * 32 * 8).fill(40);
    const blurred = formImage(volumeSource(flat, [32, 32, 8]), [32, 32, 8], [1, 1, 2], { noiseSigma: 0, blurSigmaMm: 1 }, new Rng(1));
    expect(blurred.every((v) => v === 40)).toBe(true);
    const noisy = formImage(volumeSource(flat, [32, 32, 8]), [32, 32, 8], [1, 1, 2], { noiseSigma: 10, blurSigmaMm: 0 }, new Rng(1));
    const mean = noisy.reduce((s, v) => s + v, 0) / noisy.length;
    const sd = Math.sqrt(noisy.reduce((s, v) => s + (v - mean) ** 2, 0) / noisy.length);
    expect(Math.abs(mean - 40)).toBeLessThan(0.5);
    expect(Math.abs(sd - 10)).toBeLessThan(0.5);
  });

  test('the stages composed by hand give makePhantom, bit for bit', () => {
    const { options, noise, anatomy, grid, affine } = stages(6);
    const { hu, label } = rasterize(anatomy, grid);
    const image = formImage(volumeSource(hu, options.shape), options.shape, options.spacing, options, noise);
    const vols = phantomVolumes(image, label, options.shape, options.spacing, affine, options.seed);
    const p = makePhantom({ shape: [40, 36, 24], seed: 6, fovShift: [0, 0, 0] });
    expect(Buffer.from(vols.image.data.buffer).equals(Buffer.from(p.image.data.buffer))).toBe(true);
    expect(Buffer.from(vols.label.data.buffer).equals(Buffer.from(p.label.data.buffer))).toBe(true);
    expect(vols.image.affine).toEqual(p.image.affine);
    expect(vols.image.header).toEqual(p.image.header);
    // Voxel (0, 0, 0) is the grid origin, moved by the table.
    const t = anatomy.placement.table;
    [0, 1, 2].forEach((d) => expect(affine[d][3]).toBeCloseTo(grid.origin[d] + t[d], 9));
  });
});
