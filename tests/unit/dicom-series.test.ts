/**
 * Reading DICOM series: the real anonymised JPEG 2000 series and synthetic ones written with
 * dcmjs, from folders, zips, file lists and Buffers; grouping, selection, geometry, rescaling and
 * the coded errors. The comparison with dcm2niix and the transcoded syntaxes is in tests/e2e.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LiversegError } from '../../src/ts/errors';
import { listDicomSeries, loadDicomSeries } from '../../src/ts/io/dicom/series';
import { loadVolume } from '../../src/ts/io/nifti-read';
import { saveVolume } from '../../src/ts/io/nifti-write';
import { axcodes } from '../../src/ts/geometry/orientation';
import type { Vec3, Volume } from '../../src/ts/volume';
import { compareInWorld, LIVER_NII, makeZip, ramp, SERIES_DIR, synthSeries, testUid, writeFiles } from '../helpers/dicom-fixtures';

let tmp: string;
beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'liverseg-dicom-series-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

async function expectCode(p: Promise<unknown>, code: string, text?: RegExp): Promise<LiversegError> {
  const e = (await p.then(
    () => {
      throw new Error(`expected ${code}, got a result`);
    },
    (x: unknown) => x,
  )) as LiversegError;
  expect(e).toBeInstanceOf(LiversegError);
  expect([e.code, e.message]).toEqual([code, expect.stringMatching(text ?? /./)]);
  return e;
}

const at = (v: Volume, i: number, j: number, k: number): number => v.data[i + v.shape[0] * (j + v.shape[1] * k)];

describe('the real series (JPEG 2000 lossless, anonymised, 20 slices)', () => {
  let ct: Awaited<ReturnType<typeof loadDicomSeries>>;
  beforeAll(async () => {
    ct = await loadDicomSeries(SERIES_DIR);
  });

  it('loads as HU in int16 with spacing from the positions (2 mm), not SliceThickness (3 mm)', () => {
    expect(ct.shape).toEqual([512, 512, 20]);
    expect(ct.data).toBeInstanceOf(Int16Array);
    expect(ct.spacing[0]).toBeCloseTo(0.9765625, 9);
    expect(ct.spacing[1]).toBeCloseTo(0.9765625, 9);
    expect(ct.spacing[2]).toBeCloseTo(2, 9);
    expect(ct.dicom.sliceThickness).toBe(3);
    let min = Infinity;
    let max = -Infinity;
    for (const v of ct.data) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    // Unsigned 12-bit storage with intercept -1024: air is -1024, nothing below.
    expect(min).toBe(-1024);
    expect(max).toBeGreaterThan(1000);
    expect(axcodes(ct.affine)).toBe('LPS');
  });

  it('has exactly the geometry of the mask made for it (liver.nii.gz), in world coordinates', async () => {
    const liver = await loadVolume(LIVER_NII);
    const cmp = compareInWorld({ ...ct, data: new Uint8Array(ct.data.length) }, { ...liver, data: new Uint8Array(liver.data.length) });
    expect(cmp.sameShape).toBe(true);
    expect(cmp.maxAffineDiff).toBeLessThan(1e-4);
  });

  it('describes patient, study, series and every slice; the anonymiser left the UIDs empty', () => {
    const d = ct.dicom;
    expect(d.series.modality).toBe('CT');
    expect(d.series.instanceUid).toBe('');
    expect(d.study.instanceUid).toBe('');
    expect(d.series.frameOfReferenceUid).toMatch(/^1\.3\.12\.2\./);
    expect(d.transferSyntaxUids).toEqual(['1.2.840.10008.1.2.4.90']);
    expect(d.slices).toHaveLength(20);
    expect(d.slices.every((s) => s.sopInstanceUid === '' && s.sopClassUid === '1.2.840.10008.5.1.4.1.1.2')).toBe(true);
    const z = d.slices.map((s) => s.imagePositionPatient[2]);
    expect(z).toEqual([...z].sort((a, b) => a - b));
    expect(z[1] - z[0]).toBeCloseTo(2, 6);
    expect(d.resampled).toBe(false);
  });

  it('reads the same slices from a file list, a zip (file or Buffer) and Buffers', async () => {
    // Five slices (every fourth) keep this quick; they must equal the same slices of the whole series.
    const picked = ct.dicom.slices.filter((_, k) => k % 4 === 0);
    const files = picked.map((s) => s.file);
    const buffers = await Promise.all(files.map((f) => fsp.readFile(f)));
    const zipPath = path.join(tmp, 'series.zip');
    await fsp.writeFile(zipPath, makeZip(files.map((f, i) => ({ name: `DICOM/${path.basename(f)}`, data: buffers[i] }))));
    const perSlice = 512 * 512;
    const expected = Buffer.concat(picked.map((_, n) => Buffer.from(ct.data.buffer, 2 * perSlice * 4 * n, 2 * perSlice)));
    for (const source of [[...files].reverse(), zipPath, await fsp.readFile(zipPath), buffers]) {
      const v = await loadDicomSeries(source, { threads: 0 });
      expect(v.shape).toEqual([512, 512, 5]);
      expect(Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength).equals(expected)).toBe(true);
      expect(v.spacing[2]).toBeCloseTo(8, 9);
    }
  });
});

describe('synthetic series', () => {
  it('sorts slices by position along the normal, whatever the file names and order', async () => {
    const dir = path.join(tmp, 'sort');
    const files = synthSeries({ slices: 7 });
    await writeFiles(dir, files);
    const v = await loadDicomSeries(dir);
    expect(v.shape).toEqual([12, 10, 7]);
    for (const k of [0, 3, 6])
      for (const [i, j] of [
        [0, 0],
        [5, 4],
        [11, 9],
      ])
        expect(at(v, i, j, k)).toBe(ramp(i, j, k) - 1024);
    expect(v.dicom.slices.map((s) => s.file)).toEqual([...files].sort((a, b) => a.k - b.k).map((f) => path.join(dir, f.name)));
    // i along the row direction (0.7 mm columns), j down the rows (0.8 mm), k along the normal: LPS -> RAS.
    expect(v.affine).toEqual([
      [-0.7, -0, -0, 100],
      [-0, -0.8, -0, 120],
      [0, 0, 2.5, 50],
      [0, 0, 0, 1],
    ]);
    expect(v.spacing).toEqual([0.7, 0.8, 2.5]);
  });

  it('handles oblique and sagittal stacks and slices stored in decreasing position', async () => {
    const c = Math.cos(0.3);
    const s = Math.sin(0.3);
    const dir = path.join(tmp, 'oblique');
    await writeFiles(dir, synthSeries({ iop: [c, s, 0, 0, 0, -1], gap: -3, slices: 5 }));
    const v = await loadDicomSeries(dir);
    // normal = row x col = (-s, c, 0); the gap is negative, so sorting reverses the instance order.
    const n: Vec3 = [-s, c, 0];
    const d = v.dicom.slices.map((sl) => sl.imagePositionPatient.reduce((acc, p, a) => acc + p * n[a], 0));
    expect(d).toEqual([...d].sort((a, b) => a - b));
    expect(v.spacing[2]).toBeCloseTo(3, 9);
    expect(v.dicom.slices.map((sl) => sl.instanceNumber)).toEqual([5, 4, 3, 2, 1]);
  });

  it('searches folders recursively, skips non-DICOM files and reports them', async () => {
    const dir = path.join(tmp, 'nested');
    const files = synthSeries({ slices: 4 });
    await writeFiles(
      dir,
      files.map((f, i) => ({ name: path.join(i % 2 ? 'a/b' : 'c', `${f.name}.dcm`), bytes: f.bytes })),
    );
    await fsp.writeFile(path.join(dir, 'README.txt'), 'not an image');
    await fsp.writeFile(path.join(dir, 'a', 'DICOMDIR-like'), Buffer.alloc(200));
    const v = await loadDicomSeries(dir);
    expect(v.shape[2]).toBe(4);
    const inv = await listDicomSeries(dir);
    expect(inv.skipped.map((s) => path.basename(s.file)).sort()).toEqual(['DICOMDIR-like', 'README.txt']);
    expect(inv.skipped[0].reason).toMatch(/not a DICOM file/);
  });

  it('applies RescaleSlope/Intercept per slice; signed storage; float32 when the rescale is not integral', async () => {
    const dirA = path.join(tmp, 'rescale-int');
    await writeFiles(
      dirA,
      synthSeries({ slices: 3, signed: true, bitsStored: 16, value: (i, j, k) => i - j * 100 - k * 1000, intercept: (k) => k * 10, slope: 1 }),
    );
    const a = await loadDicomSeries(dirA);
    expect(a.data).toBeInstanceOf(Int16Array);
    expect(at(a, 3, 2, 2)).toBe(3 - 200 - 2000 + 20);
    const dirB = path.join(tmp, 'rescale-float');
    await writeFiles(dirB, synthSeries({ slices: 3, slope: (k) => 0.5 + k, intercept: -1000.25 }));
    const b = await loadDicomSeries(dirB);
    expect(b.data).toBeInstanceOf(Float32Array);
    expect(at(b, 4, 5, 1)).toBeCloseTo(ramp(4, 5, 1) * 1.5 - 1000.25, 3);
    expect(at(b, 4, 5, 2)).toBeCloseTo(ramp(4, 5, 2) * 2.5 - 1000.25, 3);
  });

  it('keeps only BitsStored bits: masks high bits, sign-extends signed 12-bit values', async () => {
    const dir = path.join(tmp, 'bits');
    // Stored as 16-bit words with junk in the top 4 bits; 12 bits stored, signed: 0xF800 | 0x800 is -2048.
    await writeFiles(
      dir,
      synthSeries({ slices: 2, signed: true, bitsStored: 12, intercept: 0, value: (i) => (i === 0 ? 0x7800 | 0x0800 : i === 1 ? 0x5005 : 0x0fff) }),
    );
    const v = await loadDicomSeries(dir);
    expect([at(v, 0, 0, 0), at(v, 1, 0, 0), at(v, 2, 0, 1)]).toEqual([-2048, 5, -1]);
  });

  it('reads implicit VR little endian and 8-bit storage', async () => {
    const dir = path.join(tmp, 'implicit8');
    await writeFiles(
      dir,
      synthSeries({ slices: 3, bitsAllocated: 8, transferSyntax: '1.2.840.10008.1.2', value: (i, j, k) => (i + j + k) % 256, intercept: -100 }),
    );
    const v = await loadDicomSeries(dir);
    expect(at(v, 5, 6, 2)).toBe(13 - 100);
  });

  describe('several series in one folder', () => {
    let dir: string;
    let big: string;
    let small: string;
    beforeAll(async () => {
      dir = path.join(tmp, 'study');
      big = testUid();
      small = testUid();
      const study = testUid();
      const fr = testUid();
      await writeFiles(path.join(dir, 'ct1'), synthSeries({ slices: 6, uids: { study, series: big, frameOfReference: fr }, seriesDescription: 'venous' }));
      await writeFiles(
        path.join(dir, 'ct2'),
        synthSeries({ slices: 3, uids: { study, series: small, frameOfReference: fr }, seriesDescription: 'arterial', value: () => 7 }),
      );
      await writeFiles(path.join(dir, 'mr'), synthSeries({ slices: 9, modality: 'MR', seriesDescription: 'mr' }));
      // A scout in the big series: ImageType LOCALIZER, and a coronal stray image of another size.
      await writeFiles(
        path.join(dir, 'ct1'),
        synthSeries({ slices: 1, uids: { study, series: big, frameOfReference: fr }, imageType: ['ORIGINAL', 'PRIMARY', 'LOCALIZER'], name: () => 'scout' }),
      );
      await writeFiles(
        path.join(dir, 'ct1'),
        synthSeries({ slices: 1, cols: 20, rows: 8, iop: [1, 0, 0, 0, 0, -1], uids: { study, series: big, frameOfReference: fr }, name: () => 'stray' }),
      );
    });

    it('chooses the CT series with the most slices, leaves localizers out and reports them', async () => {
      const v = await loadDicomSeries(dir);
      expect(v.dicom.series.instanceUid).toBe(big);
      expect(v.shape).toEqual([12, 10, 6]);
      expect(v.dicom.excluded.map((e) => [path.basename(e.file), e.reason])).toEqual([
        ['scout', expect.stringMatching(/localizer/)],
        ['stray', expect.stringMatching(/other orientation or size/)],
      ]);
      const inv = await listDicomSeries(dir);
      expect(inv.series.map((s) => [s.modality, s.slices, s.description]).sort()).toEqual([
        ['CT', 3, 'arterial'],
        ['CT', 6, 'venous'],
        ['MR', 9, 'mr'],
      ]);
      expect(inv.defaultKey).toBe(big);
    });

    it('loads another series by seriesUid or selector, and names the choices when a UID is unknown', async () => {
      expect((await loadDicomSeries(dir, { seriesUid: small })).shape[2]).toBe(3);
      const mr = await loadDicomSeries(dir, { selector: (list) => list.find((s) => s.modality === 'MR') });
      expect(mr.dicom.series.modality).toBe('MR');
      const e = await expectCode(loadDicomSeries(dir, { seriesUid: '1.2.3.4' }), 'ERR_DICOM_NO_SERIES', /no series 1\.2\.3\.4; found: .*venous/);
      expect(e.message).toMatch(/arterial/);
      await expectCode(loadDicomSeries(dir, { selector: () => null }), 'ERR_DICOM_NO_SERIES', /selector chose none/);
    });

    it('passes the same options through loadVolume', async () => {
      expect((await loadVolume(dir, { seriesUid: small })).shape[2]).toBe(3);
    });
  });

  it('groups two anonymised series (empty UIDs) apart by their other attributes', async () => {
    const dir = path.join(tmp, 'anon');
    await writeFiles(path.join(dir, 'x'), synthSeries({ slices: 4, uids: null, seriesDescription: 'one', seriesNumber: 1 }));
    await writeFiles(path.join(dir, 'y'), synthSeries({ slices: 5, uids: null, seriesDescription: 'two', seriesNumber: 2, origin: [-100, -120, 50.5] }));
    const inv = await listDicomSeries(dir);
    expect(inv.series.map((s) => [s.key.slice(0, 5), s.slices]).sort()).toEqual([
      ['anon-', 4],
      ['anon-', 5],
    ]);
    const v = await loadDicomSeries(dir);
    expect(v.shape[2]).toBe(5);
    const four = inv.series.find((s) => s.slices === 4)!;
    expect((await loadDicomSeries(dir, { seriesUid: four.key })).shape[2]).toBe(4);
  });

  describe('geometry that is not a regular grid', () => {
    const base: Vec3 = [-100, -120, 50];
    const missing = (): Vec3[] => [0, 1, 2, 4, 5].map((k) => [base[0], base[1], base[2] + 2.5 * k] as Vec3);

    it('refuses a missing slice, saying where, and resamples it with { resample: true }', async () => {
      const dir = path.join(tmp, 'missing');
      const pos = missing();
      await writeFiles(dir, synthSeries({ slices: 5, positions: pos, value: (i, j, k) => [0, 1, 2, 4, 5][k] * 100 + i, intercept: 0 }));
      const e = await expectCode(
        loadDicomSeries(dir),
        'ERR_DICOM_GEOMETRY',
        /1 missing slice\(s\) between .* \(55\.00 and 60\.00 mm along the normal\): a gap of 5\.000 mm where the spacing is 2\.500 mm; pass \{ resample: true \}/,
      );
      expect(e.message).toMatch(/liverseg-segment --resample/);
      const v = await loadDicomSeries(dir, { resample: true });
      expect(v.shape).toEqual([12, 10, 6]);
      expect(v.data).toBeInstanceOf(Float32Array);
      expect(v.dicom.resampled).toBe(true);
      expect(v.dicom.slices).toEqual([]);
      // The missing slice (index 3) is the average of its neighbours; the others are untouched.
      for (const k of [0, 1, 2, 3, 4, 5]) expect(at(v, 7, 3, k)).toBeCloseTo(k * 100 + 7, 3);
      expect(v.spacing[2]).toBeCloseTo(2.5, 9);
    });

    it('refuses uneven spacing', async () => {
      const dir = path.join(tmp, 'uneven');
      await writeFiles(dir, synthSeries({ slices: 4, positions: [0, 2.5, 5.5, 8].map((z) => [base[0], base[1], base[2] + z] as Vec3) }));
      await expectCode(loadDicomSeries(dir), 'ERR_DICOM_GEOMETRY', /uneven slice spacing between .*: 3\.000 mm where the spacing is 2\.500 mm/);
      const v = await loadDicomSeries(dir, { resample: true });
      expect(v.shape[2]).toBe(4);
    });

    it('refuses a gantry tilt (sheared positions) and resamples it onto an orthogonal grid', async () => {
      const dir = path.join(tmp, 'tilt');
      // Each slice 2.5 mm higher and 1 mm further back (y): a tilt of about 21.8 degrees.
      const pos = Array.from({ length: 5 }, (_, k) => [base[0], base[1] + k, base[2] + 2.5 * k] as Vec3);
      await writeFiles(dir, synthSeries({ slices: 5, positions: pos, gantryTilt: 21.8, intercept: 0, value: (i, j) => j * 10 }));
      await expectCode(
        loadDicomSeries(dir),
        'ERR_DICOM_GEOMETRY',
        /sheared: .*21\.80 degrees off the slice normal \(a gantry tilt; GantryDetectorTilt 21\.8\); pass \{ resample: true \}/,
      );
      const v = await loadDicomSeries(dir, { resample: true });
      expect(v.shape).toEqual([12, 10, 5]);
      // Slice k is shifted by k mm = k / 0.8 rows: output row j shows stored row j - k / 0.8.
      expect(at(v, 4, 6, 0)).toBeCloseTo(60, 3);
      expect(at(v, 4, 6, 2)).toBeCloseTo((6 - 2 / 0.8) * 10, 3);
      // The affine is orthogonal again: its third column runs along the normal.
      expect(v.affine[1][2]).toBeCloseTo(0, 9);
    });

    it('refuses two large stacks of different orientations in one series', async () => {
      const dir = path.join(tmp, 'mixed');
      const uids = { study: testUid(), series: testUid(), frameOfReference: testUid() };
      await writeFiles(path.join(dir, 'ax'), synthSeries({ slices: 5, uids }));
      await writeFiles(path.join(dir, 'cor'), synthSeries({ slices: 5, uids, iop: [1, 0, 0, 0, 0, -1], name: (k) => `cor${k}` }));
      await expectCode(loadDicomSeries(dir), 'ERR_DICOM_GEOMETRY', /mixed orientations or sizes in one series: 5 slices like .* and 5 like/);
    });

    it('refuses two slices at one position, naming both files', async () => {
      const dir = path.join(tmp, 'duplicate');
      await writeFiles(dir, synthSeries({ slices: 3, positions: [base, base, [base[0], base[1], base[2] + 2.5]], name: (k) => `f${k}` }));
      await expectCode(loadDicomSeries(dir), 'ERR_DICOM_GEOMETRY', /two slices at the same position .*f[01] and .*f[01]/);
    });
  });

  it('names the file and attribute when a slice has no position', async () => {
    const dir = path.join(tmp, 'nopos');
    await writeFiles(dir, synthSeries({ slices: 2, extra: { ImagePositionPatient: undefined } }));
    await expectCode(loadDicomSeries(dir), 'ERR_DICOM_GEOMETRY', /has no valid ImagePositionPatient \(0020,0032\)/);
  });

  it('refuses an unsupported transfer syntax with its UID', async () => {
    const dir = path.join(tmp, 'mpeg');
    // MPEG2 video: the header parses, the pixel data would need a video codec.
    await writeFiles(dir, synthSeries({ slices: 2, transferSyntax: '1.2.840.10008.1.2.4.100' }));
    await expectCode(loadDicomSeries(dir), 'ERR_DICOM_TRANSFER_SYNTAX', /transfer syntax 1\.2\.840\.10008\.1\.2\.4\.100 is not supported/);
  });
});

describe('loadVolume', () => {
  it('reads NIfTI as before and DICOM folders, zips and lists', async () => {
    const nii = await loadVolume(LIVER_NII);
    expect(nii.header).toBeDefined();
    expect(nii.dicom).toBeUndefined();
    const dir = path.join(tmp, 'lv');
    const files = synthSeries({ slices: 3 });
    const paths = await writeFiles(dir, files);
    expect((await loadVolume(dir)).dicom?.slices).toHaveLength(3);
    expect((await loadVolume(paths)).shape[2]).toBe(3);
    expect((await loadVolume(paths[0])).shape[2]).toBe(1);
    // A NIfTI file in a Buffer is still NIfTI.
    const out = path.join(tmp, 'copy.nii.gz');
    await saveVolume(out, nii);
    expect((await loadVolume(await fsp.readFile(out))).shape).toEqual(nii.shape);
  });

  it('keeps its NIfTI errors: a folder with no DICOM files is ERR_IO; a missing path ERR_FILE_NOT_FOUND', async () => {
    const empty = path.join(tmp, 'no-dicom');
    await fsp.mkdir(empty, { recursive: true });
    await fsp.writeFile(path.join(empty, 'notes.txt'), 'hello');
    await expectCode(loadVolume(empty), 'ERR_IO', /is a folder with no DICOM files in it/);
    await expectCode(loadVolume(path.join(tmp, 'nope')), 'ERR_FILE_NOT_FOUND');
    await expectCode(loadDicomSeries(empty), 'ERR_DICOM_NO_SERIES', /no DICOM image series found \(1 file\(s\) skipped: not a DICOM file/);
    await expectCode(loadDicomSeries(path.join(tmp, 'nope')), 'ERR_FILE_NOT_FOUND');
  });
});
