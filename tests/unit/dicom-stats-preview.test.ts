/**
 * liverStats and renderPreview: exact statistics on volumes built for the purpose, the real series
 * with its liver mask, and a preview checked pixel by pixel after decoding the PNG.
 */
import { PNG } from 'pngjs';
import { toCanonical } from '../../src/ts/geometry/orientation';
import { renderPreview, renderPreviewImage } from '../../src/ts/inferers/preview';
import { loadDicomSeries } from '../../src/ts/io/dicom/series';
import { loadVolume } from '../../src/ts/io/nifti-read';
import { liverStats } from '../../src/ts/metrics/liver-stats';
import { axisMapVolume } from '../../src/ts/transforms/ops';
import { flip } from '../../src/ts/transforms/rand-flip';
import type { Affine, Vec3, Volume } from '../../src/ts/volume';
import { LIVER_NII, SERIES_DIR } from '../helpers/dicom-fixtures';

const SHAPE: Vec3 = [40, 30, 20];
// LPS-like storage (as DICOM gives it): i towards the patient's left, j posterior, k superior.
const AFFINE: Affine = [
  [-0.8, 0, 0, 20],
  [0, -0.8, 0, 10],
  [0, 0, 2, -30],
  [0, 0, 0, 1],
];

function volumes(): { ct: Volume<Int16Array>; mask: Volume<Uint8Array> } {
  const [ni, nj, nk] = SHAPE;
  const ct = new Int16Array(ni * nj * nk).fill(-1000);
  const mask = new Uint8Array(ni * nj * nk);
  for (let k = 0; k < nk; k++) {
    for (let j = 0; j < nj; j++) {
      for (let i = 0; i < ni; i++) {
        const idx = i + ni * (j + nj * k);
        if (i >= 2 && i < 38 && j >= 2 && j < 28) ct[idx] = 40;
        // Liver: i in [5, 15), j in [8, 20), k in [4, 20) (it reaches the last slice: cut off superiorly); HU 50 + (i - 5).
        if (i >= 5 && i < 15 && j >= 8 && j < 20 && k >= 4) {
          mask[idx] = 1;
          ct[idx] = 50 + (i - 5);
        }
      }
    }
  }
  // A bright marker on the patient's right (low i, since i runs to the left) in every slice.
  for (let k = 0; k < nk; k++) for (let j = 12; j < 16; j++) for (let i = 2; i < 4; i++) ct[i + ni * (j + nj * k)] = 240;
  return {
    ct: { data: ct, shape: [...SHAPE], spacing: [0.8, 0.8, 2], affine: AFFINE.map((r) => [...r]) },
    mask: { data: mask, shape: [...SHAPE], spacing: [0.8, 0.8, 2], affine: AFFINE.map((r) => [...r]) },
  };
}

const world = (a: Affine, i: number, j: number, k: number): Vec3 => [0, 1, 2].map((r) => a[r][0] * i + a[r][1] * j + a[r][2] * k + a[r][3]) as Vec3;

describe('liverStats', () => {
  it('gives exact volume, HU statistics, box, centroid and the faces the liver touches', () => {
    const { ct, mask } = volumes();
    const s = liverStats(mask, ct);
    const n = 10 * 12 * 16;
    expect(s.voxels).toBe(n);
    expect(s.voxelVolumeMl).toBeCloseTo((0.8 * 0.8 * 2) / 1000, 12);
    expect(s.volumeMl).toBeCloseTo((n * 0.8 * 0.8 * 2) / 1000, 9);
    // HU 50..59, each value on 12 x 16 voxels.
    expect(s.hu!.mean).toBeCloseTo(54.5, 9);
    expect(s.hu!.median).toBeCloseTo(54.5, 9);
    expect(s.hu!.std).toBeCloseTo(Math.sqrt(8.25), 9);
    expect([s.hu!.min, s.hu!.max]).toEqual([50, 59]);
    // numpy.percentile(np.repeat(range(50, 60), 192), 5) is 50.0, 95 is 59.0
    expect(s.hu!.p5).toBe(50);
    expect(s.hu!.p95).toBe(59);
    expect(s.bboxVoxels).toEqual({ start: [5, 8, 4], end: [15, 20, 20] });
    expect(s.bboxMm!.size).toEqual([8, 9.6000000000000014, 32].map((v) => expect.closeTo(v, 9)));
    const c = world(AFFINE, 9.5, 13.5, 11.5);
    s.centroidRas!.forEach((v, r) => expect(v).toBeCloseTo(c[r], 9));
    const corner = world(AFFINE, 4.5, 7.5, 3.5);
    const other = world(AFFINE, 14.5, 19.5, 19.5);
    for (let r = 0; r < 3; r++) {
      expect(s.bboxMm!.min[r]).toBeCloseTo(Math.min(corner[r], other[r]), 9);
      expect(s.bboxMm!.max[r]).toBeCloseTo(Math.max(corner[r], other[r]), 9);
    }
    expect(s.touches).toEqual(['superior']);
    expect(s.truncated).toBe(true);
  });

  it('names faces by patient direction whatever the storage order, and reports an empty mask', () => {
    const { ct, mask } = volumes();
    const flipped = liverStats(flip(mask, [0, 2]), flip(ct, [0, 2]));
    expect(flipped.touches).toEqual(['superior']);
    expect(flipped.volumeMl).toBeCloseTo(liverStats(mask, ct).volumeMl, 12);
    const permuted = liverStats(axisMapVolume(mask, { axis: [2, 0, 1], sign: [1, 1, 1] }), axisMapVolume(ct, { axis: [2, 0, 1], sign: [1, 1, 1] }));
    expect(permuted.touches).toEqual(['superior']);
    expect(permuted.centroidRas!.map((v) => v.toFixed(6))).toEqual(liverStats(mask, ct).centroidRas!.map((v) => v.toFixed(6)));
    const none = liverStats({ ...mask, data: new Uint8Array(mask.data.length) }, ct);
    expect([none.voxels, none.volumeMl, none.hu, none.bboxVoxels, none.truncated]).toEqual([0, 0, null, null, false]);
    expect(() => liverStats({ ...mask, shape: [40, 30, 19], data: mask.data.subarray(0, 40 * 30 * 19) }, ct)).toThrow(
      expect.objectContaining({ code: 'ERR_SHAPE_MISMATCH' }),
    );
  });

  it('on the real series: about 700 ml in 366,708 voxels, liver HU, cut off by the 20-slice scan', async () => {
    const ct = await loadDicomSeries(SERIES_DIR);
    const liver = await loadVolume(LIVER_NII);
    const c = toCanonical(ct);
    const mask = { ...c.volume, data: toCanonical(liver).volume.data };
    const s = liverStats(mask, c.volume);
    expect(s.voxels).toBe(366708);
    expect(s.volumeMl).toBeCloseTo((366708 * 0.9765625 * 0.9765625 * 2) / 1000, 6);
    expect(s.hu!.median).toBeGreaterThan(40);
    expect(s.hu!.median).toBeLessThan(160);
    expect(s.touches).toEqual(expect.arrayContaining(['superior', 'inferior']));
    expect(s.truncated).toBe(true);
  });
});

describe('renderPreview', () => {
  const decode = (png: Buffer): PNG => PNG.sync.read(png);
  const rgb = (img: PNG, x: number, y: number): number[] => {
    const p = (y * img.width + x) * 4;
    return [img.data[p], img.data[p + 1], img.data[p + 2]];
  };

  it('shows three views through the centroid and a montage, liver in colour, radiological left-right', async () => {
    const { ct, mask } = volumes();
    const view = await renderPreviewImage(ct, mask);
    const img = decode(view.png);
    expect([img.width, img.height]).toEqual([view.width, view.height]);
    expect(view.panels.filter((p) => !p.montage).map((p) => p.view)).toEqual(['axial', 'coronal', 'sagittal']);
    expect(view.panels.filter((p) => p.montage).length).toBe(8);
    // A liver voxel: tinted (red above green and blue); grey 50 HU would be (210/400 * 255) = 134.
    // The centroid (9.5, 13.5, 11.5) rounds to (9, 13, 12) in this storage order: a voxel on all three views' slices.
    const inLiver = world(AFFINE, 9, 13, 12);
    const hits = view.locate(inLiver);
    expect(hits.map((h) => h.panel.view)).toEqual(expect.arrayContaining(['axial', 'coronal', 'sagittal']));
    // 54 HU is grey round(214 / 400 * 255) = 136, blended 45% with (255, 60, 40).
    const tinted = [255, 60, 40].map((c) => Math.round(0.55 * 136 + 0.45 * c));
    for (const h of hits) expect(rgb(img, h.x, h.y)).toEqual(tinted);
    // Body outside the liver: 40 HU is grey (200 / 400 * 255 = 127.5 -> 128), r = g = b.
    const body = view.locate(world(AFFINE, 30, 14, 12)).find((h) => h.panel.view === 'axial')!;
    expect(rgb(img, body.x, body.y)).toEqual([128, 128, 128]);
    // Air is black.
    const air = view.locate(world(AFFINE, 0, 0, 12)).find((h) => h.panel.view === 'axial')!;
    expect(rgb(img, air.x + 3, air.y + 3)).toEqual([0, 0, 0]);
    // The marker on the patient's right (240 HU, white) is on the left half of the axial view.
    const axial = view.panels[0];
    const marker = view.locate(world(AFFINE, 2.5, 13.5, 12)).find((h) => h.panel === axial)!;
    expect(marker.x - axial.x).toBeLessThan(axial.width / 2);
    expect(rgb(img, marker.x, marker.y)).toEqual([255, 255, 255]);
    // Orientation letters are drawn in yellow on the top views.
    let yellow = 0;
    for (let y = axial.y; y < axial.y + axial.height; y++) for (let x = axial.x; x < axial.x + 16; x++) if (rgb(img, x, y).join() === '255,220,0') yellow++;
    expect(yellow).toBeGreaterThan(10);
  });

  it('gives the same picture for a flipped or permuted copy of the same scan', async () => {
    const { ct, mask } = volumes();
    const ref = await renderPreview(ct, mask);
    const flipped = await renderPreview(flip(ct, [0, 1]), flip(mask, [0, 1]));
    expect(flipped.equals(ref)).toBe(true);
    const map = { axis: [1, 2, 0] as Vec3, sign: [1, -1, 1] as Vec3 };
    const permuted = await renderPreview(axisMapVolume(ct, map), axisMapVolume(mask, map));
    expect(permuted.equals(ref)).toBe(true);
  });

  it('renders the real series with its liver, and refuses a mask of another shape', async () => {
    const ct = await loadDicomSeries(SERIES_DIR);
    const liver = await loadVolume(LIVER_NII);
    const c = toCanonical(ct);
    const mask = { ...c.volume, data: toCanonical(liver).volume.data };
    const png = await renderPreview(c.volume, mask, { size: 200, montage: 4 });
    const img = decode(png);
    expect(img.width).toBeGreaterThan(400);
    let tinted = 0;
    for (let p = 0; p < img.data.length; p += 4) if (img.data[p] > img.data[p + 1] + 40) tinted++;
    expect(tinted).toBeGreaterThan(1000);
    await expect(renderPreview(ct, { ...mask, shape: [512, 512, 19] as Vec3, data: mask.data.subarray(0, 512 * 512 * 19) })).rejects.toMatchObject({
      code: 'ERR_SHAPE_MISMATCH',
    });
  });
});
