/** Error codes are one list: every code the native side can raise is one TypeScript knows, and unknown ones read as ERR_TORCH. */
import * as fs from 'fs';
import * as path from 'path';
import { ERROR_CODES, LiversegError } from '../../src/ts/errors';
import { fromNativeError } from '../../src/ts/native/tensors';

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : /\.(cc|h)$/.test(e.name) ? [p] : [];
  });
}

describe('error codes', () => {
  const cppCodes = new Set(
    sources(path.join(__dirname, '..', '..', 'cpp')).flatMap((f) => [...fs.readFileSync(f, 'utf8').matchAll(/"(ERR_[A-Z0-9_]+)"/g)].map((m) => m[1])),
  );

  it('cpp/ raises only codes in ERROR_CODES', () => {
    expect(cppCodes.size).toBeGreaterThan(3);
    expect([...cppCodes].filter((c) => !(ERROR_CODES as readonly string[]).includes(c))).toEqual([]);
  });

  it('a native error keeps a known code and maps an unknown one to ERR_TORCH', () => {
    const known = fromNativeError(Object.assign(new Error('x'), { code: 'ERR_SHAPE_MISMATCH' }));
    expect(known).toBeInstanceOf(LiversegError);
    expect(known.code).toBe('ERR_SHAPE_MISMATCH');
    expect(fromNativeError(Object.assign(new Error('y'), { code: 'ERR_FROM_A_NEWER_ADDON' })).code).toBe('ERR_TORCH');
    expect(fromNativeError('plain string').code).toBe('ERR_TORCH');
  });
});
