/**
 * The clinical path end to end, through the installed CLIs: the shared DICOM series (and a zip of
 * a copy with UIDs filled in) in, a NIfTI mask, a DICOM SEG, liver statistics and a preview
 * picture out; the SEG of the anonymised series itself refused with a coded error; liverseg-info
 * listing the series of a folder.
 */
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { loadDicomSeg } from '../../src/ts/io/dicom/seg-read';
import { loadDicomSeries } from '../../src/ts/io/dicom/series';
import { loadVolume } from '../../src/ts/io/nifti-read';
import { testDevice } from '../helpers/device';
import { fillUids, has, makeZip, runAny, SERIES_DIR } from '../helpers/dicom-fixtures';
import { TrainedPipeline, trainedPipeline } from '../helpers/trained-pipeline';

const LIB = path.join(__dirname, '..', '..', 'lib', 'cli');
const cli = (name: string, args: string[]) => spawnSync(process.execPath, [path.join(LIB, `${name}.js`), ...args], { encoding: 'utf8' });

describe('liverseg-segment and liverseg-info on DICOM', () => {
  let tp: TrainedPipeline;
  let tmp: string;
  jest.setTimeout(600000);

  beforeAll(async () => {
    tp = await trainedPipeline();
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'liverseg-dicom-cli-'));
  }, 1800000);
  afterAll(async () => {
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  it('segments the shared series folder into a NIfTI mask, statistics and a preview', async () => {
    const out = path.join(tmp, 'out');
    const stats = path.join(out, 'stats.json');
    const preview = path.join(out, 'preview.png');
    const r = cli('segment', ['-m', tp.pipeline, SERIES_DIR, '-o', out, '--format', 'nifti', '--stats', stats, '--preview', preview, '--device', testDevice]);
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/\[1\/1\] series: .* -> .*series\.nii\.gz, .*preview\.png/);
    const mask = await loadVolume(path.join(out, 'series.nii.gz'));
    const ct = await loadDicomSeries(SERIES_DIR);
    expect(mask.shape).toEqual([512, 512, 20]);
    mask.affine.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(ct.affine[i][j], 5)));
    const s = JSON.parse(await fsp.readFile(stats, 'utf8'));
    expect(s).toMatchObject({ case: 'series', shape: [512, 512, 20] });
    for (const k of ['voxels', 'volumeMl', 'touches', 'truncated', 'bboxVoxels', 'centroidRas']) expect(s).toHaveProperty(k);
    const img = PNG.sync.read(await fsp.readFile(preview));
    expect(img.width).toBeGreaterThan(300);
  });

  it('refuses a SEG of the anonymised series before running the model, naming the missing UID', () => {
    const t0 = Date.now();
    const r = cli('segment', ['-m', tp.pipeline, SERIES_DIR, '-o', path.join(tmp, 'refused'), '--format', 'seg,nifti', '--device', testDevice]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/liverseg-segment: Reference series: it has no StudyInstanceUID \(0020,000D\).*\(ERR_DICOM_REFERENCE\)/);
    expect(Date.now() - t0).toBeLessThan(60000);
  });

  it('segments a zip of a copy with UIDs into a SEG that reads back as the NIfTI mask, and dciodvfy accepts', async () => {
    const dir = path.join(tmp, 'with-uids');
    await fillUids(SERIES_DIR, dir);
    const names = (await fsp.readdir(dir)).sort();
    const zip = path.join(tmp, 'study.zip');
    await fsp.writeFile(zip, makeZip(await Promise.all(names.map(async (n) => ({ name: `CT/${n}`, data: await fsp.readFile(path.join(dir, n)) })))));
    const out = path.join(tmp, 'zip-out');
    const r = cli('segment', [
      '-m',
      tp.pipeline,
      zip,
      '-o',
      out,
      '--format',
      'seg,nifti',
      '--stats',
      path.join(out, 'stats.json'),
      '--preview',
      path.join(out, 'preview.png'),
      '--device',
      testDevice,
    ]);
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect((await fsp.readdir(out)).sort()).toEqual(['preview.png', 'stats.json', 'study.nii.gz', 'study.seg.dcm']);
    const ct = await loadDicomSeries(zip);
    const nifti = await loadVolume(path.join(out, 'study.nii.gz'));
    const seg = await loadDicomSeg(path.join(out, 'study.seg.dcm'), { reference: ct });
    expect(Buffer.from(seg.data).equals(Buffer.from(nifti.data as Uint8Array))).toBe(true);
    expect(seg.seg.referencedSeriesInstanceUid).toBe(ct.dicom.series.instanceUid);
    if (has('dciodvfy')) {
      // dicom3tools' validator (Debian: dicom3tools); without it this one check is left out.
      expect(
        runAny('dciodvfy', [path.join(out, 'study.seg.dcm')])
          .output.split('\n')
          .filter((l) => /^Error/.test(l)),
      ).toEqual([]);
    }
  });

  it('liverseg-info lists the series of a folder and of a zip', async () => {
    const r = cli('info', [SERIES_DIR]);
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.kind).toBe('dicom');
    expect(info.series).toHaveLength(1);
    expect(info.series[0]).toMatchObject({
      modality: 'CT',
      slices: 20,
      rows: 512,
      columns: 512,
      plane: 'axial',
      transferSyntaxUids: ['1.2.840.10008.1.2.4.90'],
    });
    expect(info.defaultSeries).toBe(info.series[0].key);
    expect(info.series[0].key).toMatch(/^anon-/);
    const z = cli('info', [path.join(tmp, 'study.zip')]);
    expect(JSON.parse(z.stdout).series[0].seriesInstanceUid).toMatch(/^2\.25\./);
  });
});
