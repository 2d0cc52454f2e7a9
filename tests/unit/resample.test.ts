import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadVolume, saveVolume } from '../../src/ts/io';
import { resampleLike, resampleToShape, resampleToSpacing } from '../../src/ts/geometry';
import { Rng } from '../../src/ts/util/rng';
import type { Affine, Vec3, Volume } from '../../src/ts/volume';
import { REPO_ROOT } from '../helpers/nifti-builder';

const LABEL = path.join(REPO_ROOT, 'tests/fixtures/ct-sample/labelsTr/ct_sample.nii.gz');
const CT = path.join(REPO_ROOT, 'tests/fixtures/ct-sample/imagesTr/ct_sample.nii.gz');

/** An oblique, partly flipped affine with the given voxel sizes. */
function obliqueAffine(spacing: Vec3, origin: Vec3): Affine {
  const r = (25 * Math.PI) / 180;
  const rot = [
    [Math.cos(r), -Math.sin(r), 0],
    [Math.sin(r), Math.cos(r), 0],
    [0, 0, -1],
  ];
  const a: Affine = [0, 1, 2].map((i) => [0, 1, 2].map((j) => rot[i][j] * spacing[j]).concat(origin[i]));
  a.push([0, 0, 0, 1]);
  return a;
}

function world(a: Affine, i: number, j: number, k: number): Vec3 {
  return [0, 1, 2].map((r) => a[r][0] * i + a[r][1] * j + a[r][2] * k + a[r][3]) as Vec3;
}

/** A linear function of world position: trilinear interpolation must reproduce it exactly. */
const ramp = (p: Vec3): number => 0.5 * p[0] - 0.25 * p[1] + 0.1 * p[2] + 3;

function rampVolume(shape: Vec3, spacing: Vec3, affine: Affine): Volume<Float32Array> {
  const data = new Float32Array(shape[0] * shape[1] * shape[2]);
  let idx = 0;
  for (let k = 0; k < shape[2]; k++) for (let j = 0; j < shape[1]; j++) for (let i = 0; i < shape[0]; i++) data[idx++] = ramp(world(affine, i, j, k));
  return { data, shape, spacing, affine };
}

/** Largest |value - ramp(world of voxel centre)| over a volume. */
function rampError(v: Volume): number {
  let worst = 0;
  let idx = 0;
  for (let k = 0; k < v.shape[2]; k++) {
    for (let j = 0; j < v.shape[1]; j++) {
      for (let i = 0; i < v.shape[0]; i++) worst = Math.max(worst, Math.abs(v.data[idx++] - ramp(world(v.affine, i, j, k))));
    }
  }
  return worst;
}

describe('resampleToSpacing', () => {
  const spacing: Vec3 = [1, 2, 3];
  const src = rampVolume([21, 11, 9], spacing, obliqueAffine(spacing, [-20, 15, 40]));

  test('shape, affine (voxel 0 fixed, axes scaled) and world-consistent values', () => {
    const out = resampleToSpacing(src, [2, 1.5, 2], 'linear');
    // round((n - 1) * old / new) + 1
    expect(out.shape).toEqual([11, 14, 13]);
    expect(out.spacing).toEqual([2, 1.5, 2]);
    expect(out.data).toBeInstanceOf(Float32Array);
    const factors = [2, 0.75, 2 / 3];
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 3; c++) expect(out.affine[r][c]).toBeCloseTo(src.affine[r][c] * factors[c], 12);
      expect(out.affine[r][3]).toBe(src.affine[r][3]);
    }
    expect(rampError(out)).toBeLessThan(1e-4);
  });

  test('an isotropic number works and nearest keeps the input type', () => {
    const ints: Volume<Int16Array> = { ...src, data: Int16Array.from(src.data, Math.round) };
    const out = resampleToSpacing(ints, 1.5, 'nearest');
    expect(out.data).toBeInstanceOf(Int16Array);
    expect(out.spacing).toEqual([1.5, 1.5, 1.5]);
    expect(out.shape).toEqual([Math.round(20 / 1.5) + 1, Math.round(20 / 1.5) + 1, Math.round(24 / 1.5) + 1]);
  });

  test.each([
    ['mode', () => resampleToSpacing(src, 2, 'cubic' as 'linear')],
    ['zero spacing', () => resampleToSpacing(src, [1, 0, 1], 'linear')],
    ['negative spacing', () => resampleToSpacing(src, -1, 'linear')],
    ['bad target', () => resampleLike(src, { shape: [0, 1, 1], affine: src.affine }, 'linear')],
  ])('bad %s is ERR_INVALID_ARG', (_n, f) => {
    expect(f).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
  });
});

describe('resampleToShape', () => {
  test('keeps the first and last voxel centres; values follow world position', () => {
    const spacing: Vec3 = [1, 2, 3];
    const src = rampVolume([21, 11, 9], spacing, obliqueAffine(spacing, [5, 6, 7]));
    const out = resampleToShape(src, [7, 5, 4], 'linear');
    expect(out.shape).toEqual([7, 5, 4]);
    expect(out.spacing[0]).toBeCloseTo((20 / 6) * 1, 12);
    expect(out.spacing[1]).toBeCloseTo((10 / 4) * 2, 12);
    expect(out.spacing[2]).toBeCloseTo((8 / 3) * 3, 12);
    const lastSrc = world(src.affine, 20, 10, 8);
    const lastOut = world(out.affine, 6, 4, 3);
    for (let r = 0; r < 3; r++) expect(lastOut[r]).toBeCloseTo(lastSrc[r], 9);
    expect(rampError(out)).toBeLessThan(1e-4);
  });
});

describe('resampleLike', () => {
  const spacing: Vec3 = [1, 1, 1];
  const src = rampVolume([20, 20, 20], spacing, obliqueAffine(spacing, [0, 0, 0]));

  test('onto a rotated grid inside the source: linear reproduces the world ramp', () => {
    // A grid rotated 40 degrees against the source, centred in it, small enough to stay inside.
    const c = world(src.affine, 9.5, 9.5, 9.5);
    const r = (40 * Math.PI) / 180;
    const target: Affine = [
      [Math.cos(r) * 0.9, 0, -Math.sin(r) * 0.9, 0],
      [0, 0.9, 0, 0],
      [Math.sin(r) * 0.9, 0, Math.cos(r) * 0.9, 0],
      [0, 0, 0, 1],
    ];
    for (let a = 0; a < 3; a++) target[a][3] = c[a] - 5 * (target[a][0] + target[a][1] + target[a][2]);
    const out = resampleLike(src, { shape: [11, 11, 11], affine: target }, 'linear');
    expect(out.spacing.map((s) => +s.toFixed(12))).toEqual([0.9, 0.9, 0.9]);
    expect(rampError(out)).toBeLessThan(1e-4);
  });

  test("padding 'zeros' blanks points outside the source field of view; 'border' repeats the edge", () => {
    const shifted = src.affine.map((row) => [...row]);
    // Move the target grid 10 voxels along the source's first axis: half of it falls outside.
    for (let r = 0; r < 3; r++) shifted[r][3] += 10 * src.affine[r][0];
    const zeros = resampleLike(src, { shape: src.shape, affine: shifted }, 'linear', { padding: 'zeros' });
    const border = resampleLike(src, { shape: src.shape, affine: shifted }, 'linear');
    for (const [i, j, k] of [
      [0, 3, 4],
      [9, 10, 19],
      [10, 0, 0],
      [19, 7, 2],
    ]) {
      const idx = i + 20 * (j + 20 * k);
      const inside = i + 10 <= 19;
      const expected = ramp(world(src.affine, Math.min(i + 10, 19), j, k));
      if (inside) {
        expect(zeros.data[idx]).toBeCloseTo(expected, 3);
      } else {
        expect(zeros.data[idx]).toBe(0);
      }
      expect(border.data[idx]).toBeCloseTo(expected, 3);
    }
  });

  test('onto a permuted and flipped grid, nearest is an exact reordering (general path)', () => {
    const rng = new Rng(11);
    const lab: Volume<Uint8Array> = {
      data: Uint8Array.from({ length: 6 * 5 * 4 }, () => rng.int(5)),
      shape: [6, 5, 4],
      spacing: [1, 2, 3],
      affine: [
        [1, 0, 0, 3],
        [0, 2, 0, 4],
        [0, 0, 3, 5],
        [0, 0, 0, 1],
      ],
    };
    // Target axis 0 = source axis 2 reversed, axis 1 = source axis 0, axis 2 = source axis 1 reversed.
    const target: Affine = [
      [0, 1, 0, 3],
      [0, 0, -2, 4 + 2 * 4],
      [-3, 0, 0, 5 + 3 * 3],
      [0, 0, 0, 1],
    ];
    const out = resampleLike(lab, { shape: [4, 6, 5], affine: target }, 'nearest');
    for (let c = 0; c < 5; c++) {
      for (let b = 0; b < 6; b++) {
        for (let a = 0; a < 4; a++) {
          const i = b;
          const j = 4 - c;
          const k = 3 - a;
          expect(out.data[a + 4 * (b + 6 * c)]).toBe(lab.data[i + 6 * (j + 5 * k)]);
        }
      }
    }
  });
});

describe('label and image round trips', () => {
  test.each([2, 3])('labels: to a %ix finer grid and back is exact', (factor) => {
    const rng = new Rng(factor);
    const sp = 2 * factor;
    const lab: Volume<Uint8Array> = {
      data: Uint8Array.from({ length: 9 * 8 * 7 }, () => rng.int(5)),
      shape: [9, 8, 7],
      spacing: [sp, sp, sp],
      affine: obliqueAffine([sp, sp, sp], [1, 2, 3]),
    };
    const fine = resampleToSpacing(lab, sp / factor, 'nearest');
    expect(fine.shape).toEqual([8 * factor + 1, 7 * factor + 1, 6 * factor + 1]);
    // Fine voxels that coincide with coarse centres carry exactly the coarse label.
    for (const [i, j, k] of [
      [0, 0, 0],
      [3, 5, 6],
      [8, 7, 6],
    ]) {
      expect(fine.data[i * factor + fine.shape[0] * (j * factor + fine.shape[1] * k * factor)]).toBe(lab.data[i + 9 * (j + 8 * k)]);
    }
    const back = resampleLike(fine, lab, 'nearest');
    expect(back.shape).toEqual(lab.shape);
    expect(back.affine).toEqual(lab.affine);
    expect(Array.from(back.data)).toEqual(Array.from(lab.data));
  });

  test('the real liver mask: 3 mm -> 1.5 mm -> 3 mm is exact and keeps 38,634 voxels', async () => {
    const lab = await loadVolume(LABEL);
    const fine = resampleToSpacing(lab, 1.5, 'nearest');
    expect(fine.shape).toEqual([243, 201, 59]);
    expect(fine.data).toBeInstanceOf(Uint8Array);
    let fineCount = 0;
    for (const x of fine.data) fineCount += x;
    // Each coarse voxel becomes about 8 fine ones; edges make it a little less.
    expect(fineCount / 38634).toBeGreaterThan(7);
    expect(fineCount / 38634).toBeLessThan(8.5);
    const back = resampleLike(fine, lab, 'nearest');
    expect(back.header).toBe(lab.header);
    let n = 0;
    for (let i = 0; i < back.data.length; i++) {
      n += back.data[i];
      if (back.data[i] !== lab.data[i]) throw new Error(`voxel ${i} differs`);
    }
    expect(n).toBe(38634);
  });

  test('images: a smooth blob survives 1 mm -> 2 mm -> 1 mm closely', () => {
    const shape: Vec3 = [40, 36, 30];
    const aff = obliqueAffine([1, 1, 1], [0, 0, 0]);
    const data = new Float32Array(shape[0] * shape[1] * shape[2]);
    let idx = 0;
    for (let k = 0; k < 30; k++) {
      for (let j = 0; j < 36; j++) {
        for (let i = 0; i < 40; i++) data[idx++] = 1000 * Math.exp(-((i - 20) ** 2 + (j - 17) ** 2 + (k - 14) ** 2) / (2 * 6 ** 2));
      }
    }
    const img: Volume = { data, shape, spacing: [1, 1, 1], affine: aff };
    const coarse = resampleToSpacing(img, 2, 'linear');
    const back = resampleLike(coarse, img, 'linear');
    let worst = 0;
    for (let i = 0; i < data.length; i++) worst = Math.max(worst, Math.abs(back.data[i] - data[i]));
    // Trilinear interpolation error is at most sum over axes of h^2/8 * max|f_aa|, with h = 2 voxels
    // and max|f_aa| = peak / sigma^2 for a Gaussian: 3 * 4/8 * 1000/36, about 42 (4% of the peak).
    expect(worst).toBeLessThan(((3 * 4) / 8) * (1000 / 36));
    expect(worst).toBeGreaterThan(0);
  });

  test('the real CT: 3 mm -> 2 mm -> 3 mm stays highly correlated; the header keeps its codes', async () => {
    const ct = await loadVolume(CT);
    const mid = resampleToSpacing(ct, 2, 'linear');
    expect(mid.header?.sformCode).toBe(2);
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'liverseg-resample-'));
    try {
      const p = path.join(dir, 'ct2mm.nii.gz');
      await saveVolume(p, mid);
      const reread = await loadVolume(p);
      expect(reread.shape).toEqual(mid.shape);
      for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(reread.affine[r][c]).toBeCloseTo(mid.affine[r][c], 4);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
    const back = resampleLike(mid, ct, 'linear');
    let sx = 0;
    let sy = 0;
    let sxx = 0;
    let syy = 0;
    let sxy = 0;
    const n = ct.data.length;
    for (let i = 0; i < n; i++) {
      const x = ct.data[i];
      const y = back.data[i];
      sx += x;
      sy += y;
      sxx += x * x;
      syy += y * y;
      sxy += x * y;
    }
    const corr = (n * sxy - sx * sy) / Math.sqrt((n * sxx - sx * sx) * (n * syy - sy * sy));
    expect(corr).toBeGreaterThan(0.97);
  });
});
