import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LiversegError } from '../../src/ts/errors';
import { readSafetensors, SafetensorsTensor, writeSafetensors } from '../../src/ts/io';

let dir: string;
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'liverseg-st-'));
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});
const tmp = (n: string) => path.join(dir, n);

/** A safetensors file assembled by hand: header JSON text (padded here as the format says) and data. */
function handFile(header: string | object | Buffer, data: Uint8Array, pad = true): Buffer {
  let text = Buffer.isBuffer(header) ? header : Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  if (pad) text = Buffer.concat([text, Buffer.alloc((8 - (text.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(text.length));
  return Buffer.concat([len, text, data]);
}

async function readErr(bytes: Buffer, name: string): Promise<LiversegError> {
  const p = tmp(name);
  await fsp.writeFile(p, bytes);
  const e = await readSafetensors(p).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(LiversegError);
  expect((e as LiversegError).code).toBe('ERR_SAFETENSORS');
  expect((e as LiversegError).message.startsWith(p)).toBe(true);
  return e as LiversegError;
}

describe('round trip', () => {
  const tensors: Record<string, SafetensorsTensor> = {
    'conv.weight': { dtype: 'F32', shape: [2, 3], data: new Float32Array([1.5, -2, 3.25, 0, -0, 1e-30]) },
    'conv.bias': { dtype: 'F64', shape: [2], data: new Float64Array([Math.PI, -Math.E]) },
    steps: { dtype: 'I64', shape: [], data: new BigInt64Array([123456789012345n]) },
    index: { dtype: 'I32', shape: [3], data: new Int32Array([-1, 0, 2147483647]) },
    mask: { dtype: 'U8', shape: [5], data: new Uint8Array([0, 1, 255, 3, 4]) },
    small: { dtype: 'I16', shape: [1, 3], data: new Int16Array([-32768, 5, 32767]) },
    half: { dtype: 'F16', shape: [2], data: new Uint16Array([0x3c00, 0xc000]) },
    brain: { dtype: 'BF16', shape: [2], data: new Uint16Array([0x3f80, 0x4049]) },
    empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
    raw: { dtype: 'I32', shape: [2], data: Buffer.from([1, 0, 0, 0, 255, 255, 255, 255]) },
  };

  test('every dtype, metadata, shapes and values come back', async () => {
    const p = tmp('model.safetensors');
    await writeSafetensors(p, tensors, { format: 'pt', note: 'héllo' });
    const back = await readSafetensors(p);
    expect(back.metadata).toEqual({ format: 'pt', note: 'héllo' });
    expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const b = back.tensors[name];
      expect(b.dtype).toBe(t.dtype);
      expect(b.shape).toEqual(t.shape);
      expect(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))).toBe(
        true,
      );
    }
    expect(back.tensors['conv.weight'].data).toBeInstanceOf(Float32Array);
    expect(Array.from(back.tensors['conv.weight'].data as Float32Array)).toEqual([1.5, -2, 3.25, 0, -0, Math.fround(1e-30)]);
    expect(back.tensors.steps.data).toBeInstanceOf(BigInt64Array);
    expect((back.tensors.steps.data as BigInt64Array)[0]).toBe(123456789012345n);
    expect(Array.from(back.tensors.raw.data as Int32Array)).toEqual([1, -1]);
    // Views are aligned to their element size.
    for (const t of Object.values(back.tensors)) expect(t.data.byteOffset % (t.data as Float64Array).BYTES_PER_ELEMENT).toBe(0);
  });

  test('the layout follows the format: u64 LE length, space-padded JSON, contiguous offsets', async () => {
    const p = tmp('layout.safetensors');
    await writeSafetensors(p, tensors, { a: 'b' });
    const bytes = await fsp.readFile(p);
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const text = bytes.subarray(8, 8 + n).toString('utf8');
    expect(text.trimEnd().length).toBeLessThanOrEqual(n);
    expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);
    const header = JSON.parse(text);
    expect(header.__metadata__).toEqual({ a: 'b' });
    const spans = Object.entries(header)
      .filter(([k]) => k !== '__metadata__')
      .map(([, v]) => (v as { data_offsets: number[] }).data_offsets)
      .sort((a, b) => a[0] - b[0]);
    let cursor = 0;
    for (const [b, e] of spans) {
      expect(b).toBe(cursor);
      cursor = e;
    }
    expect(8 + n + cursor).toBe(bytes.length);
  });

  test('a hand-assembled file reads; a misaligned F32 tensor is copied, not viewed', async () => {
    const data = Buffer.alloc(3 + 8);
    data.set([7, 8, 9], 0);
    data.writeFloatLE(1.25, 3);
    data.writeFloatLE(-4, 7);
    const header = {
      b: { dtype: 'F32', shape: [2], data_offsets: [3, 11] },
      a: { dtype: 'U8', shape: [3], data_offsets: [0, 3] },
    };
    const p = tmp('hand.safetensors');
    await fsp.writeFile(p, handFile(header, data, false));
    const back = await readSafetensors(p);
    expect(Array.from(back.tensors.a.data as Uint8Array)).toEqual([7, 8, 9]);
    expect(Array.from(back.tensors.b.data as Float32Array)).toEqual([1.25, -4]);
    expect(back.metadata).toEqual({});
  });

  test('writing is atomic: a missing directory is ERR_IO and leaves nothing', async () => {
    const p = path.join(dir, 'missing', 'w.safetensors');
    await expect(writeSafetensors(p, tensors)).rejects.toMatchObject({ code: 'ERR_IO' });
    expect((await fsp.readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test.each<[string, Record<string, SafetensorsTensor>, Record<string, string> | undefined]>([
    ['size mismatch', { x: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }, undefined],
    ['unknown dtype', { x: { dtype: 'F128' as 'F32', shape: [1], data: new Float32Array(1) } }, undefined],
    ['negative dim', { x: { dtype: 'F32', shape: [-1], data: new Float32Array(1) } }, undefined],
    ['reserved name', { __metadata__: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } }, undefined],
    ['non-string metadata', { x: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } }, { n: 1 as unknown as string }],
  ])('writer rejects %s', async (_n, t, m) => {
    const e = await writeSafetensors(tmp('bad.safetensors'), t, m).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(LiversegError);
    expect(['ERR_INVALID_ARG', 'ERR_SHAPE_MISMATCH']).toContain((e as LiversegError).code);
    await expect(fsp.access(tmp('bad.safetensors'))).rejects.toThrow();
  });
});

describe('validation on read', () => {
  const f32 = (n: number) => Buffer.alloc(4 * n);
  const ok = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };

  test('a missing file is ERR_FILE_NOT_FOUND', async () => {
    await expect(readSafetensors(tmp('nope.safetensors'))).rejects.toMatchObject({ code: 'ERR_FILE_NOT_FOUND' });
  });

  test.each<[string, () => Buffer]>([
    ['shorter than 8 bytes', () => Buffer.from([1, 2, 3])],
    [
      'header length past the end',
      () => {
        const b = handFile(ok, f32(2));
        b.writeBigUInt64LE(10_000n);
        return b;
      },
    ],
    [
      'absurd header length',
      () => {
        const b = handFile(ok, f32(2));
        b.writeBigUInt64LE(2n ** 63n);
        return b;
      },
    ],
    ['header not JSON', () => handFile('{"w": nope}', f32(2))],
    ['header a JSON array', () => handFile('[1, 2]', f32(2))],
    // Valid JSON apart from one byte that is not UTF-8 (inside a string).
    [
      'invalid UTF-8',
      () =>
        handFile(
          Buffer.concat([Buffer.from('{"__metadata__":{"a":"'), Buffer.from([0xff]), Buffer.from('"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}')]),
          f32(2),
        ),
    ],
    ['unknown dtype', () => handFile({ w: { dtype: 'Q7', shape: [2], data_offsets: [0, 8] } }, f32(2))],
    ['bad shape', () => handFile({ w: { dtype: 'F32', shape: [2.5], data_offsets: [0, 8] } }, f32(2))],
    ['negative offset', () => handFile({ w: { dtype: 'F32', shape: [2], data_offsets: [-8, 0] } }, f32(2))],
    ['reversed offsets', () => handFile({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, f32(2))],
    ['offsets out of bounds', () => handFile({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32(2))],
    ['size does not match dtype x shape', () => handFile({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32(2))],
    [
      'overlapping tensors',
      () =>
        handFile(
          {
            a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
            b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
          },
          f32(3),
        ),
    ],
    [
      'a gap between tensors',
      () =>
        handFile(
          {
            a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
            b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
          },
          f32(3),
        ),
    ],
    ['trailing bytes after the last tensor', () => handFile(ok, f32(3))],
    ['metadata value not a string', () => handFile({ ...ok, __metadata__: { a: 1 } }, f32(2))],
    ['entry not an object', () => handFile({ w: 5 }, f32(2))],
  ])('%s is ERR_SAFETENSORS naming the file', async (name, make) => {
    await readErr(make(), `${name.replace(/\W+/g, '_')}.safetensors`);
  });

  test('the hand-built valid variant of those files reads', async () => {
    const p = tmp('valid.safetensors');
    await fsp.writeFile(p, handFile(ok, f32(2)));
    expect((await readSafetensors(p)).tensors.w.shape).toEqual([2]);
  });
});
