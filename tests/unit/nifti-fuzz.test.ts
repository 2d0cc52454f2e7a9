/**
 * Mutates valid small NIfTI files (headers and bodies, plain and gzipped) and checks that the
 * reader only ever resolves a well-formed Volume or rejects with a LiversegError carrying a NIfTI
 * or file code: never a TypeError, RangeError or plain Error, never a hang, never a giant
 * allocation (maxVoxels is left at its default for half the cases).
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { LiversegError } from '../../src/ts/errors';
import { decodeNifti, loadVolume } from '../../src/ts/io';
import { Rng } from '../../src/ts/util/rng';
import { assertVolume, Volume } from '../../src/ts/volume';
import { handHeader, handNifti, HandHeader, SAMPLE_VALUES } from '../helpers/nifti-builder';

const CASES = 3000;
const ALLOWED = new Set([
  'ERR_NIFTI_GZIP',
  'ERR_NIFTI_TRUNCATED',
  'ERR_NIFTI_MAGIC',
  'ERR_NIFTI_HEADER',
  'ERR_NIFTI_DATATYPE',
  'ERR_NIFTI_DIMS',
  'ERR_NIFTI_TOO_LARGE',
]);

function values(dt: number, n: number, rng: Rng): number[] {
  const pool = SAMPLE_VALUES[dt];
  return Array.from({ length: n }, () => pool[rng.int(pool.length)]);
}

function bases(rng: Rng): Buffer[] {
  const out: Buffer[] = [];
  const dts = Object.keys(SAMPLE_VALUES).map(Number);
  for (const version of [1, 2] as const) {
    for (const le of [true, false]) {
      for (const dt of dts) {
        const spec: HandHeader = {
          version,
          littleEndian: le,
          datatype: dt,
          // Half are 4D with one time point, so dim[4] mutations reach the time-series check.
          dims: le ? [4, 3, 2, 2, 1] : [3, 3, 2, 2],
          pixdim: [-1, 1.5, 2, 2.5],
          qformCode: 1,
          quatern: [0.2, 0.1, -0.3, 10, 20, 30],
          sformCode: dt % 3 === 0 ? 0 : 2,
          srow: [
            [1.5, 0, 0, 1],
            [0, 2, 0, 2],
            [0, 0, 2.5, 3],
          ],
          sclSlope: dt === 4 ? 2 : 0,
          sclInter: dt === 4 ? -5 : 0,
        };
        out.push(handNifti(spec, values(dt, 12, rng)));
      }
    }
  }
  // One with an extension block between header and voxels.
  const ext: HandHeader = { version: 1, littleEndian: true, datatype: 4, dims: [3, 4, 2, 1], pixdim: [1, 1, 1, 1], voxOffset: 384 };
  const withExt = handNifti(ext, values(4, 8, rng));
  withExt[348] = 1;
  withExt.writeInt32LE(32, 352);
  withExt.writeInt32LE(6, 356);
  out.push(withExt);
  return out;
}

/** Offsets and widths of the numeric header fields worth aiming at. */
const FIELDS: Record<1 | 2, [number, 'i16' | 'i32' | 'i64' | 'f32' | 'f64' | 'u8'][]> = {
  1: [
    [0, 'i32'],
    ...Array.from({ length: 8 }, (_, i) => [40 + 2 * i, 'i16'] as [number, 'i16']),
    [70, 'i16'],
    [72, 'i16'],
    ...Array.from({ length: 8 }, (_, i) => [76 + 4 * i, 'f32'] as [number, 'f32']),
    [108, 'f32'],
    [112, 'f32'],
    [116, 'f32'],
    [123, 'u8'],
    [252, 'i16'],
    [254, 'i16'],
    ...Array.from({ length: 18 }, (_, i) => [256 + 4 * i, 'f32'] as [number, 'f32']),
  ],
  2: [
    [0, 'i32'],
    [12, 'i16'],
    [14, 'i16'],
    ...Array.from({ length: 8 }, (_, i) => [16 + 8 * i, 'i64'] as [number, 'i64']),
    ...Array.from({ length: 8 }, (_, i) => [104 + 8 * i, 'f64'] as [number, 'f64']),
    [168, 'i64'],
    [176, 'f64'],
    [184, 'f64'],
    [344, 'i32'],
    [348, 'i32'],
    ...Array.from({ length: 18 }, (_, i) => [352 + 8 * i, 'f64'] as [number, 'f64']),
    [500, 'i32'],
  ],
};

const INTERESTING = [
  0,
  -1,
  1,
  2,
  3,
  4,
  7,
  8,
  16,
  64,
  255,
  256,
  348,
  352,
  540,
  544,
  32767,
  -32768,
  2 ** 31 - 1,
  -(2 ** 31),
  2 ** 40,
  NaN,
  Infinity,
  -Infinity,
  1e30,
  -1e-30,
  0.5,
  -0.0,
];

function setField(buf: Buffer, off: number, kind: string, v: number, le: boolean): void {
  if (off + 8 > buf.length && kind !== 'u8') return;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  const int = (x: number) => (Number.isFinite(x) ? Math.trunc(x) : 0);
  switch (kind) {
    case 'u8':
      if (off < buf.length) dv.setUint8(off, int(v) & 0xff);
      break;
    case 'i16':
      dv.setInt16(off, (int(v) << 16) >> 16, le);
      break;
    case 'i32':
      dv.setInt32(off, int(v) | 0, le);
      break;
    case 'i64':
      dv.setBigInt64(off, BigInt.asIntN(64, BigInt(int(v))), le);
      break;
    case 'f32':
      dv.setFloat32(off, v, le);
      break;
    case 'f64':
      dv.setFloat64(off, v, le);
      break;
  }
}

function mutate(src: Buffer, rng: Rng): Buffer {
  let b = Buffer.from(src);
  const version: 1 | 2 = b.readInt32LE(0) === 540 || b.readInt32BE(0) === 540 ? 2 : 1;
  const le = b.readInt32LE(0) === 348 || b.readInt32LE(0) === 540;
  const rounds = 1 + rng.int(3);
  for (let r = 0; r < rounds; r++) {
    const op = rng.int(7);
    if (op === 0 && b.length > 0) {
      const i = rng.int(b.length);
      b[i] ^= 1 << rng.int(8);
    } else if (op === 1 && b.length > 0) {
      const start = rng.int(Math.min(b.length, 560));
      for (let i = start; i < Math.min(b.length, start + 1 + rng.int(4)); i++) b[i] = rng.int(256);
    } else if (op === 2 || op === 3) {
      const fields = FIELDS[version];
      const [off, kind] = fields[rng.int(fields.length)];
      const v = rng.next() < 0.8 ? INTERESTING[rng.int(INTERESTING.length)] : rng.uniform(-1e6, 1e6);
      setField(b, off, kind, v, le);
    } else if (op === 4) {
      b = b.subarray(0, rng.int(b.length + 1));
    } else if (op === 5) {
      const extra = Buffer.alloc(1 + rng.int(64));
      for (let i = 0; i < extra.length; i++) extra[i] = rng.int(256);
      b = Buffer.concat([b, extra]);
    } else {
      const at = rng.int(b.length + 1);
      const extra = Buffer.alloc(1 + rng.int(8));
      for (let i = 0; i < extra.length; i++) extra[i] = rng.int(256);
      b = Buffer.concat([b.subarray(0, at), extra, b.subarray(at)]);
    }
  }
  return b;
}

function mutateCompressed(z: Buffer, rng: Rng): Buffer {
  const b = Buffer.from(z);
  const op = rng.int(3);
  if (op === 0) {
    for (let n = 1 + rng.int(3); n > 0; n--) b[rng.int(b.length)] ^= 1 << rng.int(8);
    return b;
  }
  if (op === 1) return b.subarray(0, rng.int(b.length));
  const i = 10 + rng.int(Math.max(1, b.length - 18));
  b.fill(rng.int(256), i, Math.min(b.length, i + 1 + rng.int(16)));
  return b;
}

function checkVolume(v: Volume): void {
  assertVolume(v);
  expect(v.affine.every((r) => r.every(Number.isFinite))).toBe(true);
  expect(v.header).toBeDefined();
}

let dir: string;
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'liverseg-nifti-fuzz-'));
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

test(`${CASES} mutated files: a Volume or a LiversegError, nothing else`, async () => {
  const rng = new Rng(20240611);
  const pool = bases(rng);
  // Every base itself must read.
  for (const b of pool) checkVolume(await decodeNifti(b));

  const codes = new Map<string, number>();
  let resolved = 0;
  const started = Date.now();
  for (let c = 0; c < CASES; c++) {
    const original = pool[rng.int(pool.length)];
    let bytes = rng.next() < 0.9 ? mutate(original, rng) : Buffer.from(original);
    if (rng.next() < 0.5) {
      bytes = zlib.gzipSync(bytes, { level: 1 + rng.int(9) });
      if (rng.next() < 0.3) bytes = mutateCompressed(bytes, rng);
    }
    const options = rng.next() < 0.5 ? {} : { maxVoxels: 1 + rng.int(64) };
    const viaFile = c % 25 === 0;
    let file = '';
    if (viaFile) {
      file = path.join(dir, `case${c}.nii${rng.next() < 0.5 ? '.gz' : ''}`);
      await fsp.writeFile(file, bytes);
    }
    try {
      const v = viaFile ? await loadVolume(file, options) : await decodeNifti(bytes, { ...options, name: `case${c}` });
      checkVolume(v);
      resolved++;
    } catch (e) {
      if (!(e instanceof LiversegError) || !ALLOWED.has(e.code)) {
        throw new Error(`case ${c}: unexpected ${String(e)} (${(e as LiversegError).code})\n${bytes.subarray(0, 600).toString('hex')}`);
      }
      expect(e.message.startsWith(viaFile ? file : `case${c}`)).toBe(true);
      codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
    }
  }
  // The mix must exercise both outcomes and most error paths, or the fuzzing says nothing.
  expect(resolved).toBeGreaterThan(CASES / 20);
  expect(CASES - resolved).toBeGreaterThan(CASES / 4);
  expect([...codes.keys()].sort()).toEqual([...ALLOWED].sort());
  expect(Date.now() - started).toBeLessThan(60_000);
});

test('damage after the header block never hangs: truncation at every length of a small gzip file', async () => {
  const spec: HandHeader = { version: 2, littleEndian: false, datatype: 64, dims: [3, 2, 2, 2], pixdim: [1, 1, 1, 1] };
  const z = zlib.gzipSync(Buffer.concat([handHeader(spec), Buffer.alloc(64, 7)]));
  for (let n = 0; n < z.length; n++) {
    await expect(decodeNifti(z.subarray(0, n))).rejects.toBeInstanceOf(LiversegError);
  }
  expect((await decodeNifti(z)).data).toBeInstanceOf(Float64Array);
});
