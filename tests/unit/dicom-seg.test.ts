/**
 * DICOM SEG: written for a CT series, read back voxel for voxel, with the attributes a PACS and a
 * viewer need; refused, with the missing attribute named, for a series without UIDs. dciodvfy and
 * dcmdump checks are in tests/e2e/dicom-tools.test.ts.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as dcmjs from 'dcmjs';
import { LiversegError } from '../../src/ts/errors';
import { fromCanonical, toCanonical } from '../../src/ts/geometry/orientation';
import { loadDicomSeg } from '../../src/ts/io/dicom/seg-read';
import { encodeDicomSeg, saveDicomSeg, SEG_SOP_CLASS_UID } from '../../src/ts/io/dicom/seg-write';
import { loadDicomSeries } from '../../src/ts/io/dicom/series';
import { loadVolume } from '../../src/ts/io/nifti-read';
import { packageVersion } from '../../src/ts/util/package';
import type { Volume } from '../../src/ts/volume';
import { fillUids, LIVER_NII, SERIES_DIR, synthSeries, writeFiles } from '../helpers/dicom-fixtures';

let tmp: string;
beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'liverseg-dicom-seg-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

type Ds = Record<string, unknown>;
function readBack(bytes: Uint8Array): Ds {
  const d = dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  return { ...dcmjs.data.DicomMetaDictionary.naturalizeDataset(d.meta), ...dcmjs.data.DicomMetaDictionary.naturalizeDataset(d.dict) };
}
const item = (v: unknown): Ds => (Array.isArray(v) ? v[0] : v) as Ds;
const list = (v: unknown): Ds[] => (Array.isArray(v) ? v : [v]) as Ds[];

/** A box mask on slices 1..3 of a 6-slice series (slices 0, 4, 5 empty). */
function boxMask(ct: Volume): Volume<Uint8Array> {
  const [ni, nj, nk] = ct.shape;
  const data = new Uint8Array(ni * nj * nk);
  for (let k = 1; k <= 3; k++) for (let j = 2; j < 7; j++) for (let i = 3; i < 10; i++) data[i + ni * (j + nj * k)] = 1;
  return { data, shape: ct.shape, spacing: ct.spacing, affine: ct.affine };
}

describe('DICOM SEG from a synthetic series', () => {
  let ct: Awaited<ReturnType<typeof loadDicomSeries>>;
  let mask: Volume<Uint8Array>;
  let segPath: string;
  let ds: Ds;

  beforeAll(async () => {
    const dir = path.join(tmp, 'ct');
    await writeFiles(dir, synthSeries({ slices: 6 }));
    ct = await loadDicomSeries(dir);
    mask = boxMask(ct);
    segPath = path.join(tmp, 'liver.seg.dcm');
    const r = await saveDicomSeg(segPath, mask, {
      reference: ct,
      model: { name: 'pipeline.json', version: 'v3' },
      date: new Date(Date.UTC(2025, 0, 2, 3, 4, 5)),
    });
    expect(r.frames).toBe(3);
    ds = readBack(await fsp.readFile(segPath));
  });

  it('is a BINARY Segmentation with one segment "Liver" coded in SNOMED CT', () => {
    expect(ds.SOPClassUID).toBe(SEG_SOP_CLASS_UID);
    expect(ds.MediaStorageSOPClassUID).toBe(SEG_SOP_CLASS_UID);
    expect(ds.Modality).toBe('SEG');
    expect(ds.SegmentationType).toBe('BINARY');
    expect([ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.SamplesPerPixel]).toEqual([1, 1, 0, 1]);
    const seg = list(ds.SegmentSequence);
    expect(seg).toHaveLength(1);
    expect(seg[0]).toMatchObject({ SegmentNumber: 1, SegmentLabel: 'Liver', SegmentAlgorithmType: 'AUTOMATIC' });
    expect(seg[0].SegmentAlgorithmName).toBe(`liverseg ${packageVersion()} pipeline.json v3`);
    expect(item(seg[0].SegmentedPropertyTypeCodeSequence)).toMatchObject({ CodeValue: '10200004', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Liver' });
    expect(item(seg[0].SegmentedPropertyCategoryCodeSequence)).toMatchObject({
      CodeValue: '123037004',
      CodingSchemeDesignator: 'SCT',
      CodeMeaning: 'Anatomical Structure',
    });
    expect(ds.SoftwareVersions).toBe(packageVersion());
    expect(ds.ContentDate).toBe('20250102');
  });

  it('shares the CT patient, study and Frame of Reference, and lists the referenced series and every slice', () => {
    const d = ct.dicom;
    expect(ds.StudyInstanceUID).toBe(d.study.instanceUid);
    expect(ds.FrameOfReferenceUID).toBe(d.series.frameOfReferenceUid);
    expect(ds.SeriesInstanceUID).not.toBe(d.series.instanceUid);
    expect(ds.PatientID).toBe('P1');
    const refSeries = item(ds.ReferencedSeriesSequence);
    expect(refSeries.SeriesInstanceUID).toBe(d.series.instanceUid);
    expect(list(refSeries.ReferencedInstanceSequence).map((r) => r.ReferencedSOPInstanceUID)).toEqual(d.slices.map((s) => s.sopInstanceUid));
  });

  it('has one frame per slice with liver (empty ones omitted), each naming its slice and position', () => {
    expect(ds.NumberOfFrames).toBe(3);
    const frames = list(ds.PerFrameFunctionalGroupsSequence);
    expect(frames).toHaveLength(3);
    frames.forEach((f, n) => {
      const k = n + 1;
      const src = item(item(f.DerivationImageSequence).SourceImageSequence);
      expect(src.ReferencedSOPInstanceUID).toBe(ct.dicom.slices[k].sopInstanceUid);
      expect(src.ReferencedSOPClassUID).toBe('1.2.840.10008.5.1.4.1.1.2');
      expect(item(f.PlanePositionSequence).ImagePositionPatient).toEqual(ct.dicom.slices[k].imagePositionPatient);
      expect(item(f.SegmentIdentificationSequence).ReferencedSegmentNumber).toBe(1);
      expect(item(f.FrameContentSequence).DimensionIndexValues).toEqual([1, k + 1]);
    });
    const shared = item(ds.SharedFunctionalGroupsSequence);
    expect(item(shared.PlaneOrientationSequence).ImageOrientationPatient).toEqual([1, 0, 0, 0, 1, 0]);
    expect(item(shared.PixelMeasuresSequence)).toMatchObject({ PixelSpacing: [0.8, 0.7], SpacingBetweenSlices: 2.5 });
  });

  it('reads back as the same mask, voxel for voxel, on the reference grid and on its own', async () => {
    const back = await loadDicomSeg(segPath, { reference: ct });
    expect(back.shape).toEqual(ct.shape);
    expect(Buffer.from(back.data).equals(Buffer.from(mask.data))).toBe(true);
    expect(back.affine).toEqual(ct.affine);
    expect(back.seg.segments[0]).toMatchObject({ number: 1, label: 'Liver', type: 'Liver', category: 'Anatomical Structure', algorithmType: 'AUTOMATIC' });
    // Without the CT, the grid spans the frames (slices 1..3) in the CT's geometry.
    const own = await loadDicomSeg(await fsp.readFile(segPath));
    expect(own.shape).toEqual([12, 10, 3]);
    const perSlice = 12 * 10;
    expect(Buffer.from(own.data).equals(Buffer.from(mask.data.subarray(perSlice, 4 * perSlice)))).toBe(true);
    for (let r = 0; r < 3; r++) {
      expect(own.affine[r][0]).toBeCloseTo(ct.affine[r][0], 9);
      expect(own.affine[r][3]).toBeCloseTo(ct.affine[r][3] + ct.affine[r][2], 9);
    }
  });

  it('keeps one empty frame for a mask without liver, and reads it back empty', async () => {
    const empty = { ...mask, data: new Uint8Array(mask.data.length) };
    const r = encodeDicomSeg(empty, { reference: ct });
    expect(r.frames).toBe(1);
    const p = path.join(tmp, 'empty.seg.dcm');
    await fsp.writeFile(p, r.bytes);
    const back = await loadDicomSeg(p, { reference: ct });
    expect(back.data.every((v) => v === 0)).toBe(true);
  });

  it('refuses a mask on another grid, a reference without a DICOM description, and an unwritable path', async () => {
    const moved = { ...mask, affine: mask.affine.map((row, r) => row.map((v, c) => (c === 3 && r === 0 ? v + 1 : v))) };
    expect(() => encodeDicomSeg(moved, { reference: ct })).toThrow(expect.objectContaining({ code: 'ERR_GEOMETRY_MISMATCH' }));
    const { dicom: _d, ...plain } = ct;
    expect(() => encodeDicomSeg(mask, { reference: plain })).toThrow(
      expect.objectContaining({ code: 'ERR_DICOM_REFERENCE', message: expect.stringMatching(/no DICOM description/) }),
    );
    await expect(saveDicomSeg(path.join(tmp, 'no', 'such', 'dir', 'x.dcm'), mask, { reference: ct })).rejects.toMatchObject({ code: 'ERR_IO' });
    await expect(loadDicomSeg(path.join(tmp, 'ct'))).rejects.toMatchObject({ code: 'ERR_DICOM_SEG' });
  });
});

describe('DICOM SEG for the real series', () => {
  it('is refused for the anonymised series, naming the missing UID', async () => {
    const ct = await loadDicomSeries(SERIES_DIR);
    const liver = await loadVolume(LIVER_NII);
    const mask = { ...ct, data: fromCanonical({ ...toCanonical(ct).volume, data: toCanonical(liver).volume.data }, toCanonical(ct).transform).data };
    let err: LiversegError | undefined;
    try {
      encodeDicomSeg(mask, { reference: ct });
    } catch (e) {
      err = e as LiversegError;
    }
    expect(err).toBeInstanceOf(LiversegError);
    expect(err!.code).toBe('ERR_DICOM_REFERENCE');
    expect(err!.message).toMatch(/no StudyInstanceUID \(0020,000D\), which a SEG must refer to \(was the series anonymised down to empty UIDs\?\)/);
  });

  it('round-trips liver.nii.gz through a SEG of a copy whose UIDs are filled in', async () => {
    const dir = path.join(tmp, 'with-uids');
    // Six of the twenty slices keep this quick.
    const names = (await fsp.readdir(SERIES_DIR)).sort().slice(7, 13);
    await fillUids(SERIES_DIR, dir, names);
    const ct = await loadDicomSeries(dir);
    const liverFull = await loadVolume(LIVER_NII);
    // The six slices of the mask: match them by position in world coordinates.
    const canonLiver = toCanonical(liverFull).volume;
    const zOf = (v: Volume, k: number): number => v.affine[2][2] * k + v.affine[2][3];
    const c = toCanonical(ct);
    const k0 = Math.round((zOf(c.volume, 0) - canonLiver.affine[2][3]) / canonLiver.affine[2][2]);
    const perSlice = 512 * 512;
    const sub = canonLiver.data.subarray(k0 * perSlice, (k0 + 6) * perSlice) as Uint8Array;
    const mask = fromCanonical({ ...c.volume, data: Uint8Array.from(sub) }, c.transform);
    const p = path.join(tmp, 'real.seg.dcm');
    const r = await saveDicomSeg(p, mask, { reference: ct });
    expect(r.frames).toBeGreaterThan(0);
    const back = await loadDicomSeg(p, { reference: ct });
    expect(Buffer.from(back.data).equals(Buffer.from(mask.data))).toBe(true);
    let n = 0;
    for (const v of back.data) n += v;
    expect(n).toBeGreaterThan(1000);
  });
});
