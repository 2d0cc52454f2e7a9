#!/usr/bin/env node
/**
 * DICOM benchmark: a 512x512x200 CT-like series stored as JPEG 2000 lossless (one file a slice),
 * loaded with liverseg's loadDicomSeries and converted by Debian's dcm2niix in the same run; then a
 * DICOM SEG of a liver-sized mask on it written with saveDicomSeg. Targets (issue 11): load no more
 * than 2x dcm2niix's time, peak memory under 2x the volume's size (int16: 100 MiB), SEG under 2 s.
 *
 * Build first (`npx tsc -p .`), then: `node bench/dicom-load.js [runs]` (default 3). Needs dcm2niix
 * and gdcmconv (Debian: dcm2niix, libgdcm-tools). The series is generated once (dcmjs writes explicit
 * little endian, gdcmconv --j2k compresses it) into $TMPDIR/liverseg-bench/dicom-j2k-512x512x200.
 * Each measurement runs in a fresh child process, so peak RSS (VmHWM, Linux) is that run's alone;
 * it includes the decode threads, which share the process.
 */
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const MiB = 1024 * 1024;
const SHAPE = [512, 512, 200];
const DIR = path.join(os.tmpdir(), 'liverseg-bench', `dicom-j2k-${SHAPE.join('x')}`);

function procStatus(field) {
  const m = fs.readFileSync('/proc/self/status', 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) * 1024 : NaN;
}

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** Stored values (unsigned 12 bit, intercept -1024) of slice k: a body, a liver-like organ, noise. */
function slice(k) {
  const [ni, nj] = SHAPE;
  const px = new Uint16Array(ni * nj);
  let seed = 12345 + k;
  const noise = (amp) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return ((seed >>> 8) % (2 * amp + 1)) - amp;
  };
  for (let j = 0; j < nj; j++) {
    for (let i = 0; i < ni; i++) {
      const x = (i - 256) / 200;
      const y = (j - 256) / 150;
      const r = x * x + y * y;
      let hu = -1000 + noise(8);
      if (r < 1) {
        hu = 40 + noise(40);
        const lx = (i - 180) / 70;
        const ly = (j - 230) / 60;
        const lz = (k - 100) / 60;
        if (lx * lx + ly * ly + lz * lz < 1) hu = 60 + noise(40);
        if (r > 0.85) hu = 700 + noise(150);
      }
      px[j * ni + i] = Math.max(0, Math.min(4095, hu + 1024));
    }
  }
  return px;
}

function generate() {
  const dcmjs = require('dcmjs');
  const { DicomMetaDictionary, DicomDict } = dcmjs.data;
  const raw = `${DIR}.raw`;
  fs.mkdirSync(raw, { recursive: true });
  fs.mkdirSync(DIR, { recursive: true });
  const uid = () => `2.25.${BigInt('0x' + require('node:crypto').randomUUID().replace(/-/g, '')).toString()}`;
  const study = uid();
  const series = uid();
  const frame = uid();
  for (let k = 0; k < SHAPE[2]; k++) {
    const sop = uid();
    const ds = {
      _vrMap: { PixelData: 'OW' },
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
      SOPInstanceUID: sop,
      Modality: 'CT',
      PatientName: 'Bench^Phantom',
      PatientID: 'BENCH',
      StudyInstanceUID: study,
      SeriesInstanceUID: series,
      FrameOfReferenceUID: frame,
      SeriesNumber: 1,
      InstanceNumber: k + 1,
      ImageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'],
      ImagePositionPatient: [-180, -180, -300 + 1.5 * k],
      ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
      PixelSpacing: [0.7, 0.7],
      SliceThickness: 1.5,
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      Rows: SHAPE[1],
      Columns: SHAPE[0],
      BitsAllocated: 16,
      BitsStored: 12,
      HighBit: 11,
      PixelRepresentation: 0,
      RescaleIntercept: -1024,
      RescaleSlope: 1,
      PixelData: slice(k).buffer,
    };
    const meta = DicomMetaDictionary.denaturalizeDataset({
      FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
      MediaStorageSOPClassUID: ds.SOPClassUID,
      MediaStorageSOPInstanceUID: sop,
      TransferSyntaxUID: '1.2.840.10008.1.2.1',
      ImplementationClassUID: '2.25.1',
    });
    const dict = new DicomDict(meta);
    dict.dict = DicomMetaDictionary.denaturalizeDataset(ds);
    const name = `IM${String(k).padStart(4, '0')}`;
    fs.writeFileSync(path.join(raw, name), Buffer.from(dict.write()));
    execFileSync('gdcmconv', ['--j2k', path.join(raw, name), path.join(DIR, name)]);
  }
  fs.rmSync(raw, { recursive: true, force: true });
}

async function measure() {
  const liverseg = require('..');
  const base = procStatus('VmRSS');
  const t0 = process.hrtime.bigint();
  const ct = await liverseg.loadDicomSeries(DIR);
  const t1 = process.hrtime.bigint();
  const peak = procStatus('VmHWM');
  if (ct.data.length !== SHAPE[0] * SHAPE[1] * SHAPE[2]) throw new Error('wrong size');
  // A liver-sized ellipsoid (about 1.5 l) as the mask.
  const mask = new Uint8Array(ct.data.length);
  const [ni, nj, nk] = SHAPE;
  for (let k = 0; k < nk; k++)
    for (let j = 0; j < nj; j++)
      for (let i = 0; i < ni; i++) {
        const x = (i - 180) / 100;
        const y = (j - 230) / 80;
        const z = (k - 100) / 70;
        if (x * x + y * y + z * z < 1) mask[i + ni * (j + nj * k)] = 1;
      }
  const segPath = path.join(os.tmpdir(), `liverseg-bench-${process.pid}.seg.dcm`);
  const t2 = process.hrtime.bigint();
  const seg = await liverseg.saveDicomSeg(segPath, { ...ct, data: mask }, { reference: ct, model: { name: 'bench' } });
  const t3 = process.hrtime.bigint();
  const segBytes = fs.statSync(segPath).size;
  fs.rmSync(segPath, { force: true });
  process.stdout.write(
    JSON.stringify({
      loadS: Number(t1 - t0) / 1e9,
      peakOverBaselineMiB: (peak - base) / MiB,
      volumeMiB: ct.data.byteLength / MiB,
      dtype: ct.data.constructor.name,
      segS: Number(t3 - t2) / 1e9,
      segFrames: seg.frames,
      segMiB: segBytes / MiB,
    }),
  );
}

function dcm2niix() {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'liverseg-bench-d2n-'));
  const t0 = process.hrtime.bigint();
  execFileSync('dcm2niix', ['-z', 'n', '-b', 'n', '-o', out, DIR], { stdio: 'ignore' });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  fs.rmSync(out, { recursive: true, force: true });
  return s;
}

async function main() {
  if (process.argv[2] === '--measure') return measure();
  const runs = Number(process.argv[2] || 3);
  for (const tool of ['dcm2niix', 'gdcmconv']) {
    if (!has(tool)) {
      console.error(`${tool} is not installed (Debian: apt-get install dcm2niix libgdcm-tools)`);
      process.exit(1);
    }
  }
  if (!fs.existsSync(path.join(DIR, `IM${String(SHAPE[2] - 1).padStart(4, '0')}`))) {
    console.log(`generating ${DIR} (${SHAPE.join('x')}, JPEG 2000 lossless via gdcmconv) ...`);
    generate();
  }
  const bytes = fs.readdirSync(DIR).reduce((s, f) => s + fs.statSync(path.join(DIR, f)).size, 0);
  console.log(`series: ${DIR} (${SHAPE[2]} files, ${(bytes / MiB).toFixed(1)} MiB)`);
  console.log(
    `node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0].model}), load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const ours = [];
  const theirs = [];
  // Alternate the two, so a change in the machine's load hits both alike.
  for (let r = 0; r < runs; r++) {
    theirs.push(dcm2niix());
    ours.push(JSON.parse(execFileSync(process.execPath, [__filename, '--measure'], { encoding: 'utf8' })));
  }
  const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const load = med(ours.map((o) => o.loadS));
  const d2n = med(theirs);
  const peak = Math.max(...ours.map((o) => o.peakOverBaselineMiB));
  const seg = med(ours.map((o) => o.segS));
  const v = ours[0];
  console.log(`dcm2niix:          median ${d2n.toFixed(2)} s (${theirs.map((t) => t.toFixed(2)).join(', ')})`);
  console.log(
    `loadDicomSeries:   median ${load.toFixed(2)} s (${ours.map((o) => o.loadS.toFixed(2)).join(', ')}) = ${(load / d2n).toFixed(2)}x dcm2niix (target <= 2x)`,
  );
  console.log(
    `peak RSS over baseline: max ${peak.toFixed(0)} MiB for a ${v.volumeMiB.toFixed(0)} MiB ${v.dtype} volume = ${(peak / v.volumeMiB).toFixed(2)}x (target < 2x)`,
  );
  console.log(`saveDicomSeg:      median ${seg.toFixed(2)} s for ${v.segFrames} frames, ${v.segMiB.toFixed(1)} MiB (target < 2 s)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
