import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { LiversegError } from '../../src/ts/errors';
import { countNonFinite, decodeNifti, loadVolume, toFloat32 } from '../../src/ts/io';
import { assertVolume } from '../../src/ts/volume';
import { DATATYPE_BYTES, handHeader, handNifti, HandHeader, oracleHeaders, REPO_ROOT, SAMPLE_VALUES, stored } from '../helpers/nifti-builder';

const CT = path.join(REPO_ROOT, 'tests/fixtures/ct-sample/imagesTr/ct_sample.nii.gz');
const LABEL = path.join(REPO_ROOT, 'tests/fixtures/ct-sample/labelsTr/ct_sample.nii.gz');

let dir: string;
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'liverseg-nifti-read-'));
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

async function writeTmp(name: string, bytes: Uint8Array): Promise<string> {
  const p = path.join(dir, name);
  await fsp.writeFile(p, bytes);
  return p;
}

async function expectCode(p: Promise<unknown>, code: string, where?: string): Promise<LiversegError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(LiversegError);
  expect((err as LiversegError).code).toBe(code);
  if (where !== undefined) expect((err as LiversegError).message.startsWith(where)).toBe(true);
  return err as LiversegError;
}

const RAS_2MM: Partial<HandHeader> = {
  sformCode: 1,
  srow: [
    [2, 0, 0, -10],
    [0, 2, 0, 20],
    [0, 0, 2, -30],
  ],
};

function base(version: 1 | 2, littleEndian: boolean, datatype: number, extra: Partial<HandHeader> = {}): HandHeader {
  return { version, littleEndian, datatype, dims: [3, 2, 2, 2], pixdim: [1, 2, 2, 2], ...RAS_2MM, ...extra };
}

describe('real CT sample', () => {
  test('image: shape, spacing, affine, datatype and voxel values', async () => {
    const v = await loadVolume(CT);
    assertVolume(v);
    expect(v.data).toBeInstanceOf(Int16Array);
    expect(v.shape).toEqual([122, 101, 30]);
    expect(v.spacing).toEqual([3, 3, 3]);
    // Offsets as nifti-reader-js prints them (float32 values widened to double).
    expect(v.affine).toEqual([
      [3, 0, 0, -177.95632934570312], // eslint-disable-line no-loss-of-precision -- kept as nifti-reader-js prints it
      [0, 3, 0, 11.319000244140625],
      [0, 0, 3, 94.3017578125],
      [0, 0, 0, 1],
    ]);
    expect(v.header?.sformCode).toBe(2);
    expect(v.header?.qformCode).toBe(0);
    expect(v.header?.datatype).toBe(4);
    // The voxels, decoded here independently with zlib and a DataView.
    const raw = zlib.gunzipSync(await fsp.readFile(CT));
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.length);
    const off = dv.getFloat32(108, true);
    expect(off).toBe(352);
    for (const idx of [0, 1, 777, 12345, 200000, v.data.length - 1]) {
      expect(v.data[idx]).toBe(dv.getInt16(off + 2 * idx, true));
    }
    let sumRef = 0;
    let sum = 0;
    for (let i = 0; i < v.data.length; i++) {
      sumRef += dv.getInt16(off + 2 * i, true);
      sum += v.data[i];
    }
    expect(sum).toBe(sumRef);
    // The typed array owns an exactly-sized buffer (aligned, nothing else kept alive).
    expect(v.data.byteOffset).toBe(0);
    expect(v.data.buffer.byteLength).toBe(v.data.byteLength);
  });

  test('label: uint8 with 38,634 liver voxels and nothing but 0 and 1', async () => {
    const v = await loadVolume(LABEL);
    expect(v.data).toBeInstanceOf(Uint8Array);
    expect(v.shape).toEqual([122, 101, 30]);
    let ones = 0;
    let other = 0;
    for (const x of v.data) {
      if (x === 1) ones++;
      else if (x !== 0) other++;
    }
    expect(ones).toBe(38634);
    expect(other).toBe(0);
    // This file carries a 12,816-byte extension before its voxels.
    expect(v.header?.datatype).toBe(2);
  });

  test('header fields agree with nifti-reader-js', async () => {
    const o = oracleHeaders([CT, LABEL]);
    for (const f of [CT, LABEL]) {
      const v = await loadVolume(f);
      const h = v.header!;
      expect(h.dims).toEqual(o[f].dims);
      expect(h.pixdim).toEqual(o[f].pixDims);
      expect(h.datatype).toBe(o[f].datatypeCode);
      expect(h.sformCode).toBe(o[f].sform_code);
      expect(h.qformCode).toBe(o[f].qform_code);
      expect([h.qoffsetX, h.qoffsetY, h.qoffsetZ]).toEqual([o[f].qoffset_x, o[f].qoffset_y, o[f].qoffset_z]);
      expect(v.affine).toEqual(o[f].affine);
    }
  });
});

describe('datatypes, byte orders and versions', () => {
  const cases: [number, 1 | 2, boolean, boolean][] = [];
  for (const dt of Object.keys(SAMPLE_VALUES).map(Number)) {
    for (const version of [1, 2] as const) for (const le of [true, false]) for (const gz of [false, true]) cases.push([dt, version, le, gz]);
  }
  test.each(cases)('datatype %i, NIfTI-%i, little-endian %s, gzip %s', async (dt, version, le, gz) => {
    const values = SAMPLE_VALUES[dt];
    let bytes: Buffer = handNifti(base(version, le, dt), values);
    if (gz) bytes = zlib.gzipSync(bytes);
    const v = await decodeNifti(bytes);
    const expectedType = {
      2: Uint8Array,
      256: Int8Array,
      4: Int16Array,
      512: Uint16Array,
      8: Int32Array,
      768: Uint32Array,
      16: Float32Array,
      64: Float64Array,
    }[dt];
    expect(v.data).toBeInstanceOf(expectedType);
    expect(Array.from(v.data as ArrayLike<number>)).toEqual(values.map((x) => stored(dt, x)));
    expect(v.shape).toEqual([2, 2, 2]);
    expect(v.spacing).toEqual([2, 2, 2]);
    expect(v.affine[0]).toEqual([2, 0, 0, -10]);
    expect(v.affine[2]).toEqual([0, 0, 2, -30]);
    expect(v.header?.version).toBe(version);
    expect(v.data.byteOffset % DATATYPE_BYTES[dt]).toBe(0);
  });

  test('big-endian and NIfTI-2 hand-built files: nifti-reader-js reads the same header', async () => {
    const specs: HandHeader[] = [
      base(1, false, 4, { qformCode: 1, quatern: [0, 0, 0.5, 1, 2, 3], description: 'big-endian one' }),
      base(2, true, 16, { description: 'nifti two', pixdim: [-1, 2, 2, 2] }),
      base(2, false, 64, { sclSlope: 2, sclInter: 1 }),
    ];
    const files: string[] = [];
    for (const [i, s] of specs.entries()) files.push(await writeTmp(`oracle${i}.nii`, handNifti(s, SAMPLE_VALUES[s.datatype])));
    const o = oracleHeaders(files);
    for (const f of files) {
      const v = await loadVolume(f);
      const h = v.header!;
      expect(h.dims).toEqual(o[f].dims);
      expect(h.pixdim).toEqual(o[f].pixDims);
      expect(h.datatype).toBe(o[f].datatypeCode);
      expect([h.sclSlope, h.sclInter]).toEqual([o[f].scl_slope, o[f].scl_inter]);
      expect([h.quaternB, h.quaternC, h.quaternD]).toEqual([o[f].quatern_b, o[f].quatern_c, o[f].quatern_d]);
      expect(h.description).toBe(o[f].description);
      // sform_code >= qform_code here, so both readers take the sform.
      expect(v.affine).toEqual(o[f].affine);
    }
  });
});

describe('voxel-to-world rules', () => {
  // A 90-degree rotation about z: (a, b, c, d) = (cos 45, 0, 0, sin 45).
  const d = Math.fround(Math.SQRT1_2);
  const qform: Partial<HandHeader> = { qformCode: 1, quatern: [0, 0, d, 5, 6, 7], pixdim: [-1, 2, 3, 4] };

  test('sform wins when sform_code > 0', async () => {
    const v = await decodeNifti(handNifti(base(1, true, 2, { ...qform, ...RAS_2MM }), SAMPLE_VALUES[2]));
    expect(v.affine[0]).toEqual([2, 0, 0, -10]);
  });

  test('qform (quaternion, qfac from pixdim[0]) when sform_code is 0', async () => {
    const v = await decodeNifti(handNifti(base(1, true, 2, { ...qform, sformCode: 0 }), SAMPLE_VALUES[2]));
    // R = [[0,-1,0],[1,0,0],[0,0,1]], columns scaled by (2, 3, -4) because qfac = -1.
    const expected = [
      [0, -3, 0, 5],
      [2, 0, 0, 6],
      [0, 0, -4, 7],
      [0, 0, 0, 1],
    ];
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(v.affine[r][c]).toBeCloseTo(expected[r][c], 6);
    expect(v.spacing).toEqual([2, 3, 4]);
    // nifti-reader-js computes the same qform (it prefers the qform when qform_code > sform_code).
    // (Its NIfTI-2 reader does not compute qforms, so the comparison uses NIfTI-1, big-endian.)
    const f = await writeTmp('qform.nii', handNifti(base(1, false, 2, { ...qform, sformCode: 0 }), SAMPLE_VALUES[2]));
    const o = oracleHeaders([f])[f];
    const w = await loadVolume(f);
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(w.affine[r][c]).toBeCloseTo(o.affine[r][c], 6);
  });

  test('diag(pixdim) when both codes are 0', async () => {
    const v = await decodeNifti(handNifti(base(1, true, 2, { sformCode: 0, qformCode: 0, pixdim: [1, 0.5, 0.75, 2.5] }), SAMPLE_VALUES[2]));
    expect(v.affine).toEqual([
      [0.5, 0, 0, 0],
      [0, 0.75, 0, 0],
      [0, 0, 2.5, 0],
      [0, 0, 0, 1],
    ]);
  });

  test('a singular sform falls back to the qform', async () => {
    const zero = [
      [0, 0, 0, 0],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ];
    const v = await decodeNifti(handNifti(base(1, true, 2, { ...qform, sformCode: 2, srow: zero }), SAMPLE_VALUES[2]));
    expect(v.affine[1][0]).toBeCloseTo(2, 6);
  });
});

describe('scaling', () => {
  const values = SAMPLE_VALUES[4];
  test('slope and intercept give float32 values', async () => {
    const v = await decodeNifti(handNifti(base(1, true, 4, { sclSlope: 2, sclInter: -1024 }), values));
    expect(v.data).toBeInstanceOf(Float32Array);
    expect(Array.from(v.data)).toEqual(values.map((x) => Math.fround(x * 2 - 1024)));
  });
  test.each([
    [0, 5],
    [1, 0],
    [NaN, 3],
    [Infinity, 0],
  ])('slope %s intercept %s: no scaling, data stays int16', async (slope, inter) => {
    const v = await decodeNifti(handNifti(base(1, true, 4, { sclSlope: slope, sclInter: inter }), values));
    expect(v.data).toBeInstanceOf(Int16Array);
    expect(Array.from(v.data)).toEqual(values);
  });
  test('float64 data scales in float64', async () => {
    const v = await decodeNifti(handNifti(base(2, true, 64, { sclSlope: 0.5, sclInter: 0.25 }), SAMPLE_VALUES[64]));
    expect(v.data).toBeInstanceOf(Float64Array);
    expect(Array.from(v.data)).toEqual(SAMPLE_VALUES[64].map((x) => x * 0.5 + 0.25));
  });
  test('a valid slope with a non-finite intercept is a header error', async () => {
    await expectCode(decodeNifti(handNifti(base(1, true, 4, { sclSlope: 2, sclInter: NaN }), values)), 'ERR_NIFTI_HEADER');
  });
});

describe('dimensions', () => {
  test('4D with one time point reads as 3D; 2D reads as one slice', async () => {
    const v4 = await decodeNifti(handNifti(base(1, true, 2, { dims: [4, 2, 2, 2, 1] }), SAMPLE_VALUES[2]));
    expect(v4.shape).toEqual([2, 2, 2]);
    const v2 = await decodeNifti(handNifti(base(1, true, 2, { dims: [2, 4, 2, 9], pixdim: [1, 2, 2, 0] }), SAMPLE_VALUES[2]));
    expect(v2.shape).toEqual([4, 2, 1]);
    expect(v2.spacing).toEqual([2, 2, 1]);
  });
  test('time series and higher dimensions are ERR_NIFTI_DIMS', async () => {
    await expectCode(decodeNifti(handNifti(base(1, true, 2, { dims: [4, 2, 2, 1, 2] }), SAMPLE_VALUES[2])), 'ERR_NIFTI_DIMS');
    await expectCode(decodeNifti(handNifti(base(2, true, 2, { dims: [5, 2, 2, 1, 1, 2] }), SAMPLE_VALUES[2])), 'ERR_NIFTI_DIMS');
  });
});

describe('file handling', () => {
  test('gzip is detected by magic bytes, not by name', async () => {
    const plain = handNifti(base(1, true, 4), SAMPLE_VALUES[4]);
    const a = await loadVolume(await writeTmp('gz-named-plain.nii', zlib.gzipSync(plain)));
    const b = await loadVolume(await writeTmp('plain-named-gz.nii.gz', plain));
    expect(Array.from(a.data)).toEqual(SAMPLE_VALUES[4]);
    expect(Array.from(b.data)).toEqual(SAMPLE_VALUES[4]);
  });

  test('extensions between header and data are skipped; vox_offset 0 means right after the header', async () => {
    const h = base(1, true, 4, { voxOffset: 400 });
    const hdr = handHeader(h);
    hdr.fill(0x55, 352, 400);
    hdr[348] = 1;
    const v = await decodeNifti(Buffer.concat([hdr, handNifti(h, SAMPLE_VALUES[4]).subarray(400)]));
    expect(Array.from(v.data)).toEqual(SAMPLE_VALUES[4]);
    const zero = handNifti(base(1, true, 4, { voxOffset: 352 }), SAMPLE_VALUES[4]);
    zero.writeFloatLE(0, 108);
    expect(Array.from((await decodeNifti(zero)).data)).toEqual(SAMPLE_VALUES[4]);
  });

  test('multi-member gzip and a few trailing bytes are accepted', async () => {
    const plain = handNifti(base(1, true, 4), SAMPLE_VALUES[4]);
    const two = Buffer.concat([zlib.gzipSync(plain.subarray(0, 100)), zlib.gzipSync(plain.subarray(100))]);
    expect(Array.from((await decodeNifti(two)).data)).toEqual(SAMPLE_VALUES[4]);
    const trailing = zlib.gzipSync(Buffer.concat([plain, Buffer.alloc(100)]));
    expect(Array.from((await decodeNifti(trailing)).data)).toEqual(SAMPLE_VALUES[4]);
  });

  test('NaN and Inf voxels are kept and counted', async () => {
    const vals = [0, NaN, 1, Infinity, -Infinity, 2, NaN, 3];
    const v = await decodeNifti(handNifti(base(1, true, 16), vals));
    expect(Number.isNaN(v.data[1])).toBe(true);
    expect(v.data[3]).toBe(Infinity);
    expect(countNonFinite(v)).toBe(4);
    expect(countNonFinite(await decodeNifti(handNifti(base(1, true, 4), SAMPLE_VALUES[4])))).toBe(0);
  });

  test('decodeNifti never shares memory with its input', async () => {
    const bytes = handNifti(base(1, true, 2), SAMPLE_VALUES[2]);
    const v = await decodeNifti(bytes);
    bytes.fill(9, 352);
    expect(Array.from(v.data)).toEqual(SAMPLE_VALUES[2]);
  });

  test('toFloat32 converts values and keeps geometry; float32 input is returned as is', async () => {
    const v = await loadVolume(CT);
    const f = toFloat32(v);
    expect(f.data).toBeInstanceOf(Float32Array);
    expect(f.data.length).toBe(v.data.length);
    for (const i of [0, 5, 999, 123456]) expect(f.data[i]).toBe(v.data[i]);
    expect(f.affine).toEqual(v.affine);
    expect(f.header).toBe(v.header);
    expect(toFloat32(f)).toBe(f);
  });
});

describe('errors', () => {
  const good = () => handNifti(base(1, true, 4), SAMPLE_VALUES[4]);

  test('missing file, directory, bad arguments', async () => {
    const missing = path.join(dir, 'nope.nii.gz');
    await expectCode(loadVolume(missing), 'ERR_FILE_NOT_FOUND', missing);
    await expectCode(loadVolume(dir), 'ERR_IO', dir);
    await expectCode(loadVolume(''), 'ERR_INVALID_ARG');
    await expectCode(decodeNifti(good(), { maxVoxels: -1 }), 'ERR_INVALID_ARG');
  });

  test('not NIfTI: empty, random text, Analyze .hdr/.img pair, wrong magic', async () => {
    const p = await writeTmp('empty.nii', Buffer.alloc(0));
    await expectCode(loadVolume(p), 'ERR_NIFTI_MAGIC', p);
    await expectCode(decodeNifti(Buffer.from('hello, this is not an image at all'.repeat(20))), 'ERR_NIFTI_MAGIC');
    await expectCode(decodeNifti(handNifti(base(1, true, 4, { magic: 'ni1\0' }), SAMPLE_VALUES[4])), 'ERR_NIFTI_MAGIC');
    await expectCode(decodeNifti(handNifti(base(2, true, 4, { magic: 'xx2\0\r\n\x1a\n' }), SAMPLE_VALUES[4])), 'ERR_NIFTI_MAGIC');
    await expectCode(decodeNifti(zlib.gzipSync(Buffer.from('plain text inside gzip'))), 'ERR_NIFTI_MAGIC');
  });

  test('truncated data, plain and gzipped, and a header cut short', async () => {
    const g = good();
    const p = await writeTmp('short.nii', g.subarray(0, g.length - 3));
    const e = await expectCode(loadVolume(p), 'ERR_NIFTI_TRUNCATED', p);
    expect(e.message).toMatch(/13 of 16 bytes/);
    await expectCode(decodeNifti(zlib.gzipSync(g.subarray(0, g.length - 1))), 'ERR_NIFTI_TRUNCATED');
    await expectCode(decodeNifti(g.subarray(0, 200)), 'ERR_NIFTI_TRUNCATED');
  });

  test('corrupt gzip: truncated stream, damaged deflate data, wrong CRC', async () => {
    const z = zlib.gzipSync(good());
    const p = await writeTmp('cut.nii.gz', z.subarray(0, z.length - 10));
    await expectCode(loadVolume(p), 'ERR_NIFTI_GZIP', p);
    const crc = Buffer.from(z);
    crc[crc.length - 6] ^= 0xff;
    await expectCode(decodeNifti(crc), 'ERR_NIFTI_GZIP');
    const junk = Buffer.from(z);
    junk.fill(0xff, 12, 40);
    await expect(decodeNifti(junk)).rejects.toBeInstanceOf(LiversegError);
  });

  test.each<[string, Partial<HandHeader>]>([
    ['dim[1] = 0', { dims: [3, 0, 2, 2] }],
    ['dim[2] negative', { dims: [3, 2, -2, 2] }],
    ['dim[0] = 0', { dims: [0, 2, 2, 2] }],
    ['dim[0] = 9', { dims: [9, 2, 2, 2] }],
    ['negative spacing', { pixdim: [1, 2, -2, 2] }],
    ['NaN spacing', { pixdim: [1, NaN, 2, 2] }],
    ['zero spacing', { pixdim: [1, 2, 2, 0] }],
    ['vox_offset inside header', { voxOffset: 100 }],
    [
      'non-finite sform',
      {
        srow: [
          [Infinity, 0, 0, 0],
          [0, 2, 0, 0],
          [0, 0, 2, 0],
        ],
      },
    ],
  ])('header nonsense (%s) is ERR_NIFTI_HEADER', async (_name, patch) => {
    const h = base(1, true, 4, patch);
    const body = Buffer.alloc(64);
    const hdr = handHeader({ ...h, voxOffset: 352 });
    if (patch.voxOffset !== undefined) hdr.writeFloatLE(patch.voxOffset, 108);
    await expectCode(decodeNifti(Buffer.concat([hdr, body])), 'ERR_NIFTI_HEADER');
  });

  test('vox_offset beyond the end of the file is ERR_NIFTI_HEADER', async () => {
    const g = good();
    g.writeFloatLE(4096, 108);
    await expectCode(decodeNifti(g), 'ERR_NIFTI_HEADER');
  });

  test.each([
    [32, 'complex64'],
    [128, 'rgb24'],
    [1024, 'int64'],
    [2304, 'rgba32'],
    [1, 'binary'],
    [3, 'unknown'],
  ])('datatype %i (%s) is ERR_NIFTI_DATATYPE', async (code) => {
    const h = handHeader(base(1, true, 4));
    h.writeInt16LE(code, 70);
    await expectCode(decodeNifti(Buffer.concat([h, Buffer.alloc(256)])), 'ERR_NIFTI_DATATYPE');
  });

  test('maxVoxels is enforced from the header, for plain and gzip files', async () => {
    const g = good();
    await expectCode(decodeNifti(g, { maxVoxels: 7 }), 'ERR_NIFTI_TOO_LARGE');
    const p = await writeTmp('limit.nii.gz', zlib.gzipSync(g));
    await expectCode(loadVolume(p, { maxVoxels: 7 }), 'ERR_NIFTI_TOO_LARGE', p);
    expect((await loadVolume(p, { maxVoxels: 8 })).shape).toEqual([2, 2, 2]);
    // 2000^3 int16 voxels (16 GB) claimed by a tiny file: refused before anything is allocated.
    const huge = handHeader(base(2, true, 4, { dims: [3, 2000, 2000, 2000] }));
    await expectCode(decodeNifti(zlib.gzipSync(huge)), 'ERR_NIFTI_TOO_LARGE');
    await expectCode(decodeNifti(zlib.gzipSync(huge), { maxVoxels: 2 ** 40 }), 'ERR_NIFTI_TRUNCATED');
    await expectCode(decodeNifti(huge, { maxVoxels: 2 ** 40 }), 'ERR_NIFTI_TRUNCATED');
  });

  test('a gzip stream that inflates far past the described size is ERR_NIFTI_TOO_LARGE', async () => {
    const bomb = zlib.gzipSync(Buffer.concat([good(), Buffer.alloc(4 << 20)]));
    await expectCode(decodeNifti(bomb), 'ERR_NIFTI_TOO_LARGE');
  });
});
