/**
 * The independent checks of the DICOM code, against Debian's tools:
 * - dcm2niix converts the same series; liverseg's voxels must equal its output exactly and the
 *   affine agree within 1e-4 mm, compared in world coordinates (both reoriented to RAS), for the
 *   shared series and for copies transcoded by dcmtk and gdcm into every supported syntax. Where
 *   Debian's dcm2niix cannot read a syntax (deflated, JPEG-LS), it converts the copy that dcmtk
 *   decoded back to explicit little endian (dcmconv, dcmdjpls): an independent decoder either way.
 * - dciodvfy (dicom3tools) reports no errors on a SEG liverseg writes; dcmdump shows its attributes.
 * Each check skips, with the reason, when its tool is not installed (scripts/setup.js installs them).
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fromCanonical, toCanonical } from '../../src/ts/geometry/orientation';
import { saveDicomSeg } from '../../src/ts/io/dicom/seg-write';
import { loadDicomSeries } from '../../src/ts/io/dicom/series';
import { loadVolume } from '../../src/ts/io/nifti-read';
import type { Volume } from '../../src/ts/volume';
import { compareInWorld, fillUids, has, LIVER_NII, run, runAny, SERIES_DIR, synthSeries, writeFiles } from '../helpers/dicom-fixtures';

const TOOLS = ['dcm2niix', 'dcmconv', 'dcmcrle', 'dcmcjpeg', 'dcmdjpeg', 'dcmcjpls', 'dcmdjpls', 'dcmodify', 'gdcmconv'];
const haveTools = TOOLS.every(has);
// Without dcm2niix, dcmtk and gdcm (Debian: dcm2niix, dcmtk, libgdcm-tools) there is nothing to compare with.
const withTools = haveTools ? describe : describe.skip;
// Without dicom3tools there is no validator; without dcmtk no dcmdump.
const withValidator = has('dciodvfy') && has('dcmdump') ? it : it.skip;

let tmp: string;
const results: Array<{ syntax: string; reference: string; equal: boolean; maxVoxelDiff: number; maxAffineDiff: number }> = [];

beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'liverseg-dicom-tools-'));
});
afterAll(async () => {
  if (results.length) {
    const lines = results.map(
      (r) =>
        `  ${r.syntax.padEnd(34)} ${r.reference.padEnd(30)} voxels ${r.equal ? 'equal' : `differ (max ${r.maxVoxelDiff})`}, affine max diff ${r.maxAffineDiff.toExponential(1)} mm`,
    );
    process.stdout.write(`liverseg vs dcm2niix:\n${lines.join('\n')}\n`);
  }
  await fsp.rm(tmp, { recursive: true, force: true });
});

/** dcm2niix's conversion of a folder, read with liverseg's NIfTI reader. */
async function dcm2niix(dir: string, name: string): Promise<Volume> {
  const out = path.join(tmp, `n2-${name}`);
  await fsp.mkdir(out, { recursive: true });
  run('dcm2niix', ['-z', 'n', '-b', 'n', '-f', 'out', '-o', out, dir]);
  const files = (await fsp.readdir(out)).filter((f) => f.endsWith('.nii'));
  expect(files).toHaveLength(1);
  return loadVolume(path.join(out, files[0]));
}

/** Applies a command to every file of a folder (`cmd ...args in out`). */
async function transcode(src: string, name: string, cmd: string, args: string[]): Promise<string> {
  const dst = path.join(tmp, name);
  await fsp.mkdir(dst, { recursive: true });
  for (const f of await fsp.readdir(src)) run(cmd, [...args, path.join(src, f), path.join(dst, f)]);
  return dst;
}

async function check(syntax: string, dir: string, referenceDir: string, reference: string): Promise<void> {
  const ours = await loadDicomSeries(dir);
  const theirs = await dcm2niix(referenceDir, path.basename(dir));
  const cmp = compareInWorld(ours, theirs);
  results.push({ syntax, reference, equal: cmp.sameShape && cmp.maxVoxelDiff === 0, maxVoxelDiff: cmp.maxVoxelDiff, maxAffineDiff: cmp.maxAffineDiff });
  expect(cmp.sameShape).toBe(true);
  expect(cmp.maxVoxelDiff).toBe(0);
  expect(cmp.maxAffineDiff).toBeLessThan(1e-4);
}

withTools('liverseg and dcm2niix give the same volume', () => {
  let el: string;
  let withUids: string;
  jest.setTimeout(300000);

  beforeAll(async () => {
    // Five slices of the real series, with UIDs filled in (gdcm refuses files without them).
    withUids = path.join(tmp, 'j2k-uids');
    await fillUids(SERIES_DIR, withUids, (await fsp.readdir(SERIES_DIR)).sort().slice(6, 11));
    el = await transcode(withUids, 'explicit-le', 'gdcmconv', ['--raw']);
  });

  it('on the shared series as the hospital sent it (JPEG 2000 lossless, 20 slices)', async () => {
    await check('JPEG 2000 lossless (shared series)', SERIES_DIR, SERIES_DIR, 'dcm2niix on the files');
    // ... and its geometry is that of the mask made for it.
    const ours = await loadDicomSeries(SERIES_DIR);
    const liver = await loadVolume(LIVER_NII);
    expect(
      compareInWorld({ ...ours, data: new Uint8Array(ours.data.length) }, { ...liver, data: new Uint8Array(liver.data.length) }).maxAffineDiff,
    ).toBeLessThan(1e-4);
  });

  it('explicit and implicit VR little endian, explicit big endian, deflated', async () => {
    await check('Explicit VR Little Endian', el, el, 'dcm2niix on the files');
    await check('Implicit VR Little Endian', await transcode(el, 'implicit', 'dcmconv', ['+ti']), path.join(tmp, 'implicit'), 'dcm2niix on the files');
    await check('Explicit VR Big Endian', await transcode(el, 'big-endian', 'dcmconv', ['+tb']), path.join(tmp, 'big-endian'), 'dcm2niix on the files');
    const deflated = await transcode(el, 'deflated', 'dcmconv', ['+td']);
    await check(
      'Deflated Explicit VR Little Endian',
      deflated,
      await transcode(deflated, 'deflated-inflated', 'dcmconv', ['+te']),
      'dcm2niix after dcmconv +te',
    );
  });

  it('RLE, JPEG lossless (process 14, and SV1), JPEG-LS lossless and near-lossless', async () => {
    await check('RLE Lossless', await transcode(el, 'rle', 'dcmcrle', []), path.join(tmp, 'rle'), 'dcm2niix on the files');
    await check('JPEG Lossless process 14', await transcode(el, 'jpeg-14', 'dcmcjpeg', ['+el']), path.join(tmp, 'jpeg-14'), 'dcm2niix on the files');
    await check('JPEG Lossless process 14 SV1', await transcode(el, 'jpeg-sv1', 'dcmcjpeg', ['+e1']), path.join(tmp, 'jpeg-sv1'), 'dcm2niix on the files');
    const jls = await transcode(el, 'jpeg-ls', 'dcmcjpls', ['+el']);
    await check('JPEG-LS Lossless', jls, await transcode(jls, 'jpeg-ls-decoded', 'dcmdjpls', []), 'dcm2niix after dcmdjpls');
    const near = await transcode(el, 'jpeg-ls-near', 'dcmcjpls', ['+en']);
    await check('JPEG-LS near-lossless (NEAR 2)', near, await transcode(near, 'jpeg-ls-near-decoded', 'dcmdjpls', []), 'dcm2niix after dcmdjpls');
  });

  it('JPEG 2000 lossless and lossy (gdcm)', async () => {
    await check('JPEG 2000 lossless (gdcm)', await transcode(el, 'j2k', 'gdcmconv', ['--j2k']), path.join(tmp, 'j2k'), 'dcm2niix on the files');
    // gdcm's lossy mode derives a new image; it cannot derive from the scanner's private SourceImageSequence class.
    const noSource = path.join(tmp, 'no-source');
    await fsp.cp(el, noSource, { recursive: true });
    for (const f of await fsp.readdir(noSource)) run('dcmodify', ['-nb', '-e', '(0008,2112)', path.join(noSource, f)]);
    await check(
      'JPEG 2000 lossy (gdcm -q 30)',
      await transcode(noSource, 'j2k-lossy', 'gdcmconv', ['--j2k', '--lossy', '-q', '30']),
      path.join(tmp, 'j2k-lossy'),
      'dcm2niix on the files',
    );
  });

  it('JPEG baseline (8-bit data, dcmcjpeg +eb)', async () => {
    const eight = path.join(tmp, 'eight-bit');
    // A smooth 8-bit image (JPEG baseline takes only 8 bits), 64 x 64 x 4, with a 0.5 mm x 0.6 mm grid.
    await writeFiles(
      eight,
      synthSeries({
        cols: 64,
        rows: 64,
        slices: 4,
        bitsAllocated: 8,
        pixelSpacing: [0.6, 0.5],
        value: (i, j, k) => Math.round(128 + 100 * Math.sin(i / 9 + k) * Math.cos(j / 7)),
        intercept: -100,
      }),
    );
    const jpeg = await transcode(eight, 'jpeg-baseline', 'dcmcjpeg', ['+eb']);
    // Lossy JPEG leaves decoders some freedom in the inverse DCT. liverseg's libjpeg-turbo (accurate
    // integer IDCT) matches dcmtk's decoder bit for bit; Debian's dcm2niix decodes baseline JPEG through
    // turbojpeg with its own settings and comes within 2 of both.
    await check('JPEG Baseline 8-bit', jpeg, await transcode(jpeg, 'jpeg-baseline-decoded', 'dcmdjpeg', []), 'dcm2niix after dcmdjpeg');
    const direct = compareInWorld(await loadDicomSeries(jpeg), await dcm2niix(jpeg, 'jpeg-direct'));
    results.push({
      syntax: 'JPEG Baseline 8-bit',
      reference: 'dcm2niix on the files',
      equal: direct.maxVoxelDiff === 0,
      maxVoxelDiff: direct.maxVoxelDiff,
      maxAffineDiff: direct.maxAffineDiff,
    });
    expect(direct.maxVoxelDiff).toBeLessThanOrEqual(2);
    expect(direct.maxAffineDiff).toBeLessThan(1e-4);
  });

  withValidator('writes a SEG that dciodvfy accepts without errors and dcmdump shows in full', async () => {
    const ct = await loadDicomSeries(withUids);
    // The mask: liver.nii.gz's slices at these five positions.
    const liver = toCanonical(await loadVolume(LIVER_NII)).volume;
    const c = toCanonical(ct);
    const k0 = Math.round((c.volume.affine[2][3] - liver.affine[2][3]) / liver.affine[2][2]);
    const n = 512 * 512;
    const mask = fromCanonical({ ...c.volume, data: Uint8Array.from(liver.data.subarray(k0 * n, (k0 + 5) * n) as Uint8Array) }, c.transform);
    const seg = path.join(tmp, 'liver.seg.dcm');
    await saveDicomSeg(seg, mask, { reference: ct, model: { name: 'test-pipeline.json' } });
    const report = runAny('dciodvfy', [seg]).output;
    const errors = report.split('\n').filter((l) => /^Error/.test(l));
    const warnings = report.split('\n').filter((l) => /^Warning/.test(l));
    process.stdout.write(`dciodvfy on liverseg's SEG: ${errors.length} errors, ${warnings.length} warnings\n${warnings.map((w) => '  ' + w).join('\n')}\n`);
    expect(errors).toEqual([]);
    expect(report).toMatch(/Segmentation/);
    const dump = run('dcmdump', [seg]);
    for (const attr of [
      /\(0008,0016\) UI =SegmentationStorage/,
      /\(0062,0001\) CS \[BINARY\]/,
      /\(0062,0005\) LO \[Liver\]/,
      /\(0062,0008\) CS \[AUTOMATIC\]/,
      /\(0008,0100\) SH \[10200004\]/,
      /\(0008,0100\) SH \[123037004\]/,
      /\(0008,0104\) LO \[Anatomical Structure\]/,
      new RegExp(`\\(0020,0052\\) UI \\[${ct.dicom.series.frameOfReferenceUid.replace(/\./g, '\\.')}\\]`),
      new RegExp(`\\(0020,000e\\) UI \\[${ct.dicom.series.instanceUid.replace(/\./g, '\\.')}\\]`),
      new RegExp(`\\(0008,1155\\) UI \\[${ct.dicom.slices[2].sopInstanceUid.replace(/\./g, '\\.')}\\]`),
      /\(0020,9113\) SQ/,
      /\(0020,0032\) DS \[/,
    ]) {
      expect(dump).toMatch(attr);
    }
  });
});
