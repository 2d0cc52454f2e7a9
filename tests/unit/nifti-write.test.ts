import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { LiversegError } from '../../src/ts/errors';
import { decodeNifti, encodeNifti, loadVolume, maskLike, saveVolume } from '../../src/ts/io';
import { writeFileAtomic } from '../../src/ts/io/atomic-write';
import { Rng } from '../../src/ts/util/rng';
import type { Affine, Vec3, Volume } from '../../src/ts/volume';
import { handNifti, HandHeader, REPO_ROOT, SAMPLE_VALUES } from '../helpers/nifti-builder';

const CT = path.join(REPO_ROOT, 'tests/fixtures/ct-sample/imagesTr/ct_sample.nii.gz');
const LABEL = path.join(REPO_ROOT, 'tests/fixtures/ct-sample/labelsTr/ct_sample.nii.gz');

let dir: string;
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'liverseg-nifti-write-'));
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

const tmp = (name: string) => path.join(dir, name);

async function rejectsWith(p: Promise<unknown>, code: string): Promise<LiversegError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(LiversegError);
  expect((e as LiversegError).code).toBe(code);
  return e as LiversegError;
}

/** Reads raw header fields of a written file, straight from the bytes. */
async function rawHeader(p: string) {
  let b = await fsp.readFile(p);
  if (b[0] === 0x1f && b[1] === 0x8b) b = zlib.gunzipSync(b);
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const v1 = dv.getInt32(0, true) === 348;
  return {
    sizeofHdr: dv.getInt32(0, true),
    datatype: v1 ? dv.getInt16(70, true) : dv.getInt16(12, true),
    bitpix: v1 ? dv.getInt16(72, true) : dv.getInt16(14, true),
    voxOffset: v1 ? dv.getFloat32(108, true) : Number(dv.getBigInt64(168, true)),
    sclSlope: v1 ? dv.getFloat32(112, true) : dv.getFloat64(176, true),
    sclInter: v1 ? dv.getFloat32(116, true) : dv.getFloat64(184, true),
    qformCode: v1 ? dv.getInt16(252, true) : dv.getInt32(344, true),
    sformCode: v1 ? dv.getInt16(254, true) : dv.getInt32(348, true),
    bytes: b,
  };
}

describe('round trip read -> write -> read', () => {
  const cases: [number, 1 | 2, boolean, string][] = [];
  for (const dt of Object.keys(SAMPLE_VALUES).map(Number)) {
    for (const version of [1, 2] as const) cases.push([dt, version, version === 1, version === 1 ? '.nii.gz' : '.nii']);
  }
  test.each(cases)('datatype %i, NIfTI-%i (big-endian source %s) as %s', async (dt, version, bigEndian, ext) => {
    // A source with an oblique qform and a different sform, both with codes, and qfac -1.
    const spec: HandHeader = {
      version,
      littleEndian: !bigEndian,
      datatype: dt,
      dims: [4, 2, 2, 2, 1],
      pixdim: [-1, 0.75, 0.8, 2.5, 1.5],
      qformCode: 1,
      quatern: [0.1, -0.2, 0.3, -90.5, 100.25, 12],
      sformCode: 4,
      srow: [
        [-0.75, 0.01, 0, 90],
        [0, 0.8, -0.02, -120],
        [0.003, 0, 2.5, -60],
      ],
      xyztUnits: 10,
      description: 'round trip',
    };
    const first = await decodeNifti(handNifti(spec, SAMPLE_VALUES[dt]));
    const p = tmp(`rt-${dt}-${version}${ext}`);
    await saveVolume(p, first);
    const second = await loadVolume(p);
    expect(second.data.constructor).toBe(first.data.constructor);
    expect(Array.from(second.data as ArrayLike<number>)).toEqual(Array.from(first.data as ArrayLike<number>));
    expect(second.affine).toEqual(first.affine);
    expect(second.spacing).toEqual(first.spacing);
    expect(second.header).toEqual({ ...first.header, sclSlope: 1, sclInter: 0 });
    const raw = await rawHeader(p);
    expect(raw.sizeofHdr).toBe(version === 1 ? 348 : 540);
    expect(raw.datatype).toBe(dt);
    expect([raw.qformCode, raw.sformCode]).toEqual([1, 4]);
  });

  test('the real CT and its label keep data and geometry exactly', async () => {
    for (const src of [CT, LABEL]) {
      const a = await loadVolume(src);
      const p = tmp(`real-${path.basename(path.dirname(src))}.nii.gz`);
      await saveVolume(p, a);
      const b = await loadVolume(p);
      expect(b.data.constructor).toBe(a.data.constructor);
      expect(Buffer.from(b.data.buffer).equals(Buffer.from(a.data.buffer))).toBe(true);
      expect(b.affine).toEqual(a.affine);
      expect(b.header).toEqual(a.header);
    }
  });

  test('scaled data is written unscaled (slope 1, intercept 0) and reads back to the same values', async () => {
    const spec: HandHeader = { version: 1, littleEndian: true, datatype: 4, dims: [3, 2, 2, 2], pixdim: [1, 1, 1, 1], sclSlope: 0.5, sclInter: -10 };
    const a = await decodeNifti(handNifti(spec, SAMPLE_VALUES[4]));
    expect(a.data).toBeInstanceOf(Float32Array);
    const p = tmp('scaled.nii');
    await saveVolume(p, a);
    const raw = await rawHeader(p);
    expect([raw.datatype, raw.sclSlope, raw.sclInter]).toEqual([16, 1, 0]);
    expect(Array.from((await loadVolume(p)).data)).toEqual(Array.from(a.data));
  });
});

describe('masks', () => {
  test('maskLike gives the CT geometry; the written mask is uint8 with the CT header geometry', async () => {
    const ct = await loadVolume(CT);
    const data = new Uint8Array(ct.data.length);
    for (let i = 0; i < data.length; i++) data[i] = ct.data[i] > 100 ? 1 : 0;
    const mask = maskLike(ct, data);
    expect(mask.data).toBe(data);
    expect(mask.affine).toEqual(ct.affine);
    const p = tmp('mask.nii.gz');
    await saveVolume(p, mask);
    const raw = await rawHeader(p);
    expect([raw.datatype, raw.bitpix, raw.sclSlope, raw.sclInter]).toEqual([2, 8, 1, 0]);
    const back = await loadVolume(p);
    expect(back.affine).toEqual(ct.affine);
    expect(back.shape).toEqual(ct.shape);
    const { datatype: _d, sclSlope: _s, sclInter: _i, ...geomBack } = back.header!;
    const { datatype: _d2, sclSlope: _s2, sclInter: _i2, ...geomCt } = ct.header!;
    expect(geomBack).toEqual(geomCt);
    expect(Buffer.from(back.data.buffer).equals(Buffer.from(data.buffer))).toBe(true);
    // Geometry bytes (dim .. pixdim, qform/sform block) identical to the CT file's header.
    const ctRaw = await rawHeader(CT);
    expect(raw.bytes.subarray(40, 56).equals(ctRaw.bytes.subarray(40, 56))).toBe(true);
    expect(raw.bytes.subarray(76, 108).equals(ctRaw.bytes.subarray(76, 108))).toBe(true);
    expect(raw.bytes.subarray(252, 328).equals(ctRaw.bytes.subarray(252, 328))).toBe(true);
  });

  test('maskLike checks its input', () => {
    const ct: Volume = {
      data: new Int16Array(8),
      shape: [2, 2, 2],
      spacing: [1, 1, 1],
      affine: [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ],
    };
    expect(() => maskLike(ct, new Uint8Array(7))).toThrow(expect.objectContaining({ code: 'ERR_SHAPE_MISMATCH' }));
    expect(() => maskLike(ct, new Int16Array(8) as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
  });
});

describe('volumes without a header', () => {
  function rotationZ(deg: number): number[][] {
    const r = (deg * Math.PI) / 180;
    return [
      [Math.cos(r), -Math.sin(r), 0],
      [Math.sin(r), Math.cos(r), 0],
      [0, 0, 1],
    ];
  }
  function affineFrom(rot: number[][], spacing: Vec3, flipK: boolean, origin: Vec3): Affine {
    const a: Affine = [0, 1, 2].map((r) => [0, 1, 2].map((c) => rot[r][c] * spacing[c] * (c === 2 && flipK ? -1 : 1)).concat(origin[r]));
    a.push([0, 0, 0, 1]);
    return a;
  }

  test.each([
    ['axis-aligned', 0, false],
    ['oblique', 17, false],
    ['oblique, left-handed', -33, true],
    ['180 degrees', 180, true],
  ])('%s: sform and qform both describe the affine', async (_name, deg, flip) => {
    const spacing: Vec3 = [0.7, 0.9, 2];
    const affine = affineFrom(rotationZ(deg as number), spacing, flip as boolean, [-100.5, 50.25, 20]);
    const vol: Volume = { data: new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]), shape: [2, 2, 2], spacing, affine };
    const p = tmp(`nohdr-${deg}.nii`);
    await saveVolume(p, vol);
    const raw = await rawHeader(p);
    expect([raw.qformCode, raw.sformCode]).toEqual([1, 1]);
    const back = await loadVolume(p);
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(back.affine[r][c]).toBeCloseTo(affine[r][c], 5);
    expect(back.spacing).toEqual(spacing.map(Math.fround));
    // Knock out the sform: the reader then uses the qform we wrote, which must give the same matrix.
    const patched = Buffer.from(raw.bytes);
    patched.writeInt16LE(0, 254);
    const viaQform = await decodeNifti(patched);
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(viaQform.affine[r][c]).toBeCloseTo(affine[r][c], 4);
  });

  test('a stale header (shape changed) is not written; its codes are kept', async () => {
    const ct = await loadVolume(CT);
    const small: Volume = {
      data: new Int16Array(8),
      shape: [2, 2, 2],
      spacing: [6, 6, 6],
      affine: [
        [6, 0, 0, 1],
        [0, 6, 0, 2],
        [0, 0, 6, 3],
        [0, 0, 0, 1],
      ],
      header: ct.header,
    };
    const p = tmp('stale.nii');
    await saveVolume(p, small);
    const back = await loadVolume(p);
    expect(back.shape).toEqual([2, 2, 2]);
    expect(back.affine).toEqual(small.affine);
    expect([back.header?.qformCode, back.header?.sformCode]).toEqual([ct.header?.qformCode, ct.header?.sformCode]);
  });

  test('dimensions beyond 32767 switch to NIfTI-2; forcing NIfTI-1 then fails', async () => {
    const vol: Volume = {
      data: new Uint8Array(40000).fill(3),
      shape: [40000, 1, 1],
      spacing: [1, 1, 1],
      affine: [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ],
    };
    const p = tmp('wide.nii');
    await saveVolume(p, vol);
    expect((await rawHeader(p)).sizeofHdr).toBe(540);
    const back = await loadVolume(p);
    expect(back.shape).toEqual([40000, 1, 1]);
    expect(back.data.every((x) => x === 3)).toBe(true);
    await rejectsWith(saveVolume(tmp('wide1.nii'), vol, { version: 1 }), 'ERR_INVALID_ARG');
  });
});

describe('files', () => {
  const vol = (): Volume => {
    const rng = new Rng(5);
    const data = new Int16Array(16 * 16 * 8);
    for (let i = 0; i < data.length; i++) data[i] = (i % 50) + rng.int(3);
    return {
      data,
      shape: [16, 16, 8],
      spacing: [1, 1, 1],
      affine: [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ],
    };
  };

  test('.nii is plain, .nii.gz gzipped; encodeNifti gives the same bytes as the .nii file', async () => {
    const v = vol();
    await saveVolume(tmp('plain.nii'), v);
    await saveVolume(tmp('packed.nii.gz'), v);
    const plain = await fsp.readFile(tmp('plain.nii'));
    const packed = await fsp.readFile(tmp('packed.nii.gz'));
    expect(plain.readInt32LE(0)).toBe(348);
    expect([packed[0], packed[1]]).toEqual([0x1f, 0x8b]);
    expect(zlib.gunzipSync(packed).equals(plain)).toBe(true);
    expect(encodeNifti(v).equals(plain)).toBe(true);
    expect(plain.length).toBe(352 + v.data.byteLength);
  });

  test('gzip level is honoured and validated', async () => {
    const v = vol();
    await saveVolume(tmp('l0.nii.gz'), v, { gzipLevel: 0 });
    await saveVolume(tmp('l9.nii.gz'), v, { gzipLevel: 9 });
    const s0 = (await fsp.stat(tmp('l0.nii.gz'))).size;
    const s9 = (await fsp.stat(tmp('l9.nii.gz'))).size;
    expect(s0).toBeGreaterThan(352 + v.data.byteLength);
    expect(s9).toBeLessThan(s0 / 2);
    await rejectsWith(saveVolume(tmp('l12.nii.gz'), v, { gzipLevel: 12 }), 'ERR_INVALID_ARG');
  });

  test('bad names and bad volumes are ERR_INVALID_ARG; nothing is written', async () => {
    await rejectsWith(saveVolume(tmp('x.img'), vol()), 'ERR_INVALID_ARG');
    await rejectsWith(saveVolume(tmp('x.nii'), { ...vol(), shape: [2, 2, 2] }), 'ERR_SHAPE_MISMATCH');
    await expect(fsp.access(tmp('x.nii'))).rejects.toThrow();
  });

  test('a missing directory is ERR_IO naming the path', async () => {
    const p = path.join(dir, 'no-such-dir', 'a.nii.gz');
    const e = await rejectsWith(saveVolume(p, vol()), 'ERR_IO');
    expect(e.message.startsWith(p)).toBe(true);
  });

  test('a write that fails midway leaves the old file untouched and no temporary file', async () => {
    const p = tmp('atomic.nii.gz');
    await saveVolume(p, vol());
    const before = await fsp.readFile(p);
    // A compressor that passes the header through and then fails, as a full disk would. It is
    // swapped in on the zlib module object itself (non-writable but configurable, so jest.spyOn
    // cannot restore it; the `import *` namespace is a read-only copy).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const zlibModule: typeof zlib = require('node:zlib');
    const original = Object.getOwnPropertyDescriptor(zlibModule, 'createGzip')!;
    let calls = 0;
    const failing = () => {
      calls++;
      let n = 0;
      return new Transform({
        transform(chunk: Buffer, _enc, cb) {
          n += chunk.length;
          if (n > 400) cb(new Error('disk on fire'));
          else cb(null, chunk);
        },
      });
    };
    Object.defineProperty(zlibModule, 'createGzip', { ...original, value: failing });
    try {
      const e = await rejectsWith(saveVolume(p, vol()), 'ERR_IO');
      expect(e.message).toContain('disk on fire');
    } finally {
      Object.defineProperty(zlibModule, 'createGzip', original);
    }
    expect(calls).toBe(1);
    expect((await fsp.readFile(p)).equals(before)).toBe(true);
    expect((await fsp.readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('writeFileAtomic removes its temporary file when the writer throws', async () => {
    const p = tmp('never.bin');
    const e = await rejectsWith(
      writeFileAtomic(p, async (fh) => {
        await fh.write(Buffer.from('partial'));
        throw new Error('boom');
      }),
      'ERR_IO',
    );
    expect(e.message).toContain('boom');
    await expect(fsp.access(p)).rejects.toThrow();
    expect((await fsp.readdir(dir)).filter((f) => f.includes('never'))).toEqual([]);
  });
});
