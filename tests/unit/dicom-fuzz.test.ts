/**
 * Hostile and broken DICOM input: every case must end in a Volume or a LiversegError with a known
 * code, within a time limit, without crashing the process or allocating what it cannot hold.
 */
import * as zlib from 'node:zlib';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ERROR_CODES, LiversegError } from '../../src/ts/errors';
import { loadDicomSeries } from '../../src/ts/io/dicom/series';
import type { LoadDicomSeriesOptions } from '../../src/ts/io/dicom/series';
import { makeZip, SERIES_DIR, synthSeries, writeDataset } from '../helpers/dicom-fixtures';

const CASE_LIMIT_MS = 5000;

interface Outcome {
  kind: 'volume' | 'error' | 'timeout';
  code?: string;
  message?: string;
}

/** Loads a source; anything but a Volume or a coded LiversegError fails the test. */
async function attempt(source: Uint8Array | Uint8Array[], options: LoadDicomSeriesOptions = {}): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'timeout' }), CASE_LIMIT_MS);
  });
  const run = loadDicomSeries(source, { threads: 0, ...options }).then(
    (v): Outcome => {
      expect(v.data.length).toBe(v.shape[0] * v.shape[1] * v.shape[2]);
      return { kind: 'volume' };
    },
    (e: unknown): Outcome => {
      if (!(e instanceof LiversegError)) throw new Error(`not a LiversegError: ${(e as Error)?.stack ?? String(e)}`);
      expect(ERROR_CODES).toContain(e.code);
      return { kind: 'error', code: e.code, message: e.message };
    },
  );
  try {
    const out = await Promise.race([run, timeout]);
    expect(out.kind).not.toBe('timeout');
    return out;
  } finally {
    clearTimeout(timer);
  }
}

/** Offset of the first element with this tag after the meta header (explicit little endian). */
function tagOffset(b: Buffer, group: number, element: number): number {
  const needle = Buffer.alloc(4);
  needle.writeUInt16LE(group, 0);
  needle.writeUInt16LE(element, 2);
  return b.indexOf(needle, 132 + 12 + b.readUInt32LE(140));
}

let seed = 12345;
const rand = (n: number): number => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return (seed >>> 8) % n;
};

const small = (): Buffer => synthSeries({ slices: 1, cols: 16, rows: 12 })[0].bytes;

describe('DICOM fuzz: every case ends in a Volume or a coded error', () => {
  jest.setTimeout(60000);

  it('truncated files, at every few bytes of a small file and along a JPEG 2000 file', async () => {
    const b = small();
    const codes = new Set<string>();
    for (let n = 0; n < b.length; n += 7) {
      const out = await attempt(b.subarray(0, n));
      codes.add(out.code ?? out.kind);
    }
    expect(codes.has('volume')).toBe(false);
    expect([...codes].every((c) => ['ERR_DICOM_NO_SERIES', 'ERR_DICOM_PARSE', 'ERR_DICOM_PIXEL_DATA'].includes(c))).toBe(true);
    const j2k = await fsp.readFile(path.join(SERIES_DIR, (await fsp.readdir(SERIES_DIR))[0]));
    for (const frac of [0.001, 0.01, 0.05, 0.2, 0.5, 0.9, 0.99, 0.9999]) {
      const out = await attempt(j2k.subarray(0, Math.floor(j2k.length * frac)));
      expect(out.kind).toBe('error');
    }
  });

  it('random byte damage in the header and in the JPEG 2000 code stream', async () => {
    const b = small();
    for (let t = 0; t < 120; t++) {
      const m = Buffer.from(b);
      for (let x = 0; x < 1 + rand(4); x++) m[132 + rand(Math.min(900, m.length - 132))] = rand(256);
      await attempt(m);
    }
    const j2k = await fsp.readFile(path.join(SERIES_DIR, (await fsp.readdir(SERIES_DIR))[0]));
    const pixels = j2k.indexOf(Buffer.from([0xff, 0x4f, 0xff, 0x51]));
    for (const where of [pixels + 8, pixels + 12, pixels + 40, pixels + 200, pixels + 5000, j2k.length - 100]) {
      const m = Buffer.from(j2k);
      for (let x = 0; x < 8; x++) m[where + x] = rand(256);
      await attempt(m);
    }
  });

  it('wrong VR lengths: odd, past the end, 0xFFFF and undefined on a short element', async () => {
    const b = small();
    const rowsAt = tagOffset(b, 0x0028, 0x0010);
    const descAt = tagOffset(b, 0x0008, 0x103e);
    expect(rowsAt).toBeGreaterThan(0);
    for (const [at, lengths] of [
      [rowsAt, [0, 1, 3, 0xffff]],
      [descAt, [1, 0x7fff, 0xffff]],
    ] as Array<[number, number[]]>) {
      for (const len of lengths) {
        const m = Buffer.from(b);
        m.writeUInt16LE(len, at + 6);
        await attempt(m);
      }
    }
    const pxAt = tagOffset(b, 0x7fe0, 0x0010);
    for (const len of [0, 2, 0xfffffff0, 0xffffffff]) {
      const m = Buffer.from(b);
      m.writeUInt32LE(len >>> 0, pxAt + 8);
      const out = await attempt(m);
      expect(out.kind).toBe('error');
    }
  });

  it('undefined-length sequences without their delimiters', async () => {
    const ds = {
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
      SOPInstanceUID: '2.25.1',
      Modality: 'CT',
      ReferencedImageSequence: [{ ReferencedSOPClassUID: '1.2.3', ReferencedSOPInstanceUID: '1.2.3.4' }, { ReferencedSOPInstanceUID: '1.2.3.5' }],
      Rows: 2,
      Columns: 2,
      BitsAllocated: 16,
      BitsStored: 16,
      HighBit: 15,
      PixelRepresentation: 0,
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      ImagePositionPatient: [0, 0, 0],
      ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
      PixelSpacing: [1, 1],
      PixelData: new Uint16Array([1, 2, 3, 4]).buffer,
      _vrMap: { PixelData: 'OW' },
    };
    const b = writeDataset(ds);
    const itemDelim = Buffer.from([0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0]);
    const seqDelim = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
    const strip = (buf: Buffer, d: Buffer): Buffer => {
      const parts: Buffer[] = [];
      let from = 0;
      for (let at = buf.indexOf(d, 132); at >= 0; at = buf.indexOf(d, from)) {
        parts.push(buf.subarray(from, at));
        from = at + d.length;
      }
      parts.push(buf.subarray(from));
      return Buffer.concat(parts);
    };
    const noItems = strip(b, itemDelim);
    const noSeq = strip(b, seqDelim);
    const neither = strip(noItems, seqDelim);
    for (const m of [noItems, noSeq, neither, neither.subarray(0, neither.length - 20)]) await attempt(m);
  });

  it('Rows x Columns that would need gigabytes are refused before anything is allocated', async () => {
    const claims = synthSeries({ slices: 3, cols: 8, rows: 8 }).map((f) => {
      const m = Buffer.from(f.bytes);
      m.writeUInt16LE(0xffff, tagOffset(m, 0x0028, 0x0010) + 8);
      m.writeUInt16LE(0xffff, tagOffset(m, 0x0028, 0x0011) + 8);
      return m;
    });
    const heapBefore = process.memoryUsage().arrayBuffers;
    const out = await attempt(claims);
    expect(out.code).toBe('ERR_DICOM_TOO_LARGE');
    expect(out.message).toMatch(/65535x65535x3/);
    // A limit the caller sets is honoured the same way.
    const modest = synthSeries({ slices: 4, cols: 64, rows: 64 }).map((f) => f.bytes);
    expect((await attempt(modest, { maxVoxels: 1000 })).code).toBe('ERR_DICOM_TOO_LARGE');
    // One claimed image, no room in its pixel data for it: a pixel data error, not an allocation.
    expect((await attempt(claims[0])).code).toMatch(/ERR_DICOM_TOO_LARGE|ERR_DICOM_PIXEL_DATA/);
    expect(process.memoryUsage().arrayBuffers - heapBefore).toBeLessThan(256 * 2 ** 20);
    // A JPEG 2000 frame whose code stream says another size than Rows x Columns never reaches the codec.
    const j2k = await fsp.readFile(path.join(SERIES_DIR, (await fsp.readdir(SERIES_DIR))[0]));
    const siz = j2k.indexOf(Buffer.from([0xff, 0x4f, 0xff, 0x51])) + 4;
    const m = Buffer.from(j2k);
    m.writeUInt32BE(60000, siz + 4);
    m.writeUInt32BE(60000, siz + 8);
    const e = await attempt(m);
    expect([e.code, e.message]).toEqual(['ERR_DICOM_PIXEL_DATA', expect.stringMatching(/JPEG 2000 stream is 60000x60000 but Columns x Rows is 512x512/)]);
  });

  it('missing PixelData: not an image, so no series', async () => {
    const b = small();
    const at = tagOffset(b, 0x7fe0, 0x0010);
    const out = await attempt(b.subarray(0, at));
    expect([out.code, out.message]).toEqual(['ERR_DICOM_NO_SERIES', expect.stringMatching(/not an image \(no PixelData; modality CT\)/)]);
  });

  it('zip bombs: huge declared sizes, lying sizes, overlapping entries, nested zips; deflated data sets past the limit', async () => {
    const file = small();
    // One entry that declares 4 GB: refused from the central directory, before inflating anything.
    const declared = makeZip([{ name: 'a.dcm', data: file, declaredSize: 0xfffffff0 }]);
    expect((await attempt(declared)).code).toBe('ERR_DICOM_TOO_LARGE');
    // One entry that declares 1 KB and inflates to 64 MB of zeros (64 KB compressed).
    const zeros = Buffer.alloc(64 << 20);
    const lying = makeZip([{ name: 'b.dcm', data: zeros, declaredSize: 1024 }]);
    expect(lying.length).toBeLessThan(200 << 10);
    const t0 = Date.now();
    expect((await attempt(lying)).code).toMatch(/ERR_DICOM_ZIP|ERR_DICOM_TOO_LARGE/);
    expect(Date.now() - t0).toBeLessThan(3000);
    // 20,000 central-directory entries that all point at one 1 MB entry (declared 20 GB in all).
    const one = makeZip([{ name: 'c.dcm', data: Buffer.alloc(1 << 20) }]);
    const cdAt = one.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    const cdEntry = one.subarray(cdAt, one.length - 22);
    const copies = 20000;
    const end = Buffer.from(one.subarray(one.length - 22));
    end.writeUInt16LE(copies, 8);
    end.writeUInt16LE(copies, 10);
    end.writeUInt32LE(cdEntry.length * copies, 12);
    const overlapping = Buffer.concat([one.subarray(0, cdAt), ...Array.from({ length: copies }, () => cdEntry), end]);
    const o = await attempt(overlapping);
    expect([o.code, o.message]).toEqual(['ERR_DICOM_TOO_LARGE', expect.stringMatching(/zip bomb/)]);
    // A zip in a zip is not opened.
    const nested = makeZip([{ name: 'inner.zip', data: makeZip([{ name: 'x.dcm', data: file }]) }]);
    expect((await attempt(nested)).code).toBe('ERR_DICOM_NO_SERIES');
    // A corrupt archive.
    expect((await attempt(Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(100, 7)]))).code).toBe('ERR_DICOM_ZIP');
    // Deflated transfer syntax whose data set inflates past maxFileBytes.
    const big = synthSeries({ slices: 1, cols: 512, rows: 512, value: () => 0 })[0].bytes;
    const metaEnd = 144 + big.readUInt32LE(140);
    const ts = '1.2.840.10008.1.2.1\0';
    const meta = Buffer.from(big.subarray(0, metaEnd).toString('latin1').replace(ts, '1.2.840.10008.1.2.1.99'), 'latin1');
    meta.writeUInt32LE(meta.length - 144, 140);
    const tsAt = meta.indexOf('1.2.840.10008.1.2.1.99');
    meta.writeUInt16LE(22, tsAt - 2);
    const deflated = Buffer.concat([meta, zlib.deflateRawSync(big.subarray(metaEnd))]);
    expect((await attempt(deflated)).kind).toBe('volume');
    const tooBig = await attempt(deflated, { maxFileBytes: 100_000 });
    expect([tooBig.code, tooBig.message]).toEqual(['ERR_DICOM_TOO_LARGE', expect.stringMatching(/inflates to more than maxFileBytes/)]);
  });

  it('a bad file among good ones is skipped and reported, not fatal', async () => {
    const files = synthSeries({ slices: 4 }).map((f) => f.bytes);
    const broken = Buffer.from(files[0]).subarray(0, 300);
    const out = await attempt([...files, broken]);
    expect(out.kind).toBe('volume');
  });
});
