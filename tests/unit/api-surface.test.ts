/**
 * The public API as a reviewed list: every name `require('liverseg')` gives, with its kind,
 * against tests/api-surface.json. A change to the surface fails here until the list is updated
 * (LIVERSEG_UPDATE_API=1 rewrites it), so it is always visible in review.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as api from '../../src/ts/index';

const file = path.join(__dirname, 'api-surface.json');

function kindOf(v: unknown): string {
  if (typeof v === 'function') return /^class\s/.test(Function.prototype.toString.call(v)) ? 'class' : 'function';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

describe('the public API', () => {
  const surface = Object.fromEntries(
    Object.keys(api)
      .sort()
      .map((k) => [k, kindOf((api as Record<string, unknown>)[k])]),
  );

  it('is exactly the reviewed list of names and kinds', () => {
    if (process.env.LIVERSEG_UPDATE_API) fs.writeFileSync(file, JSON.stringify(surface, null, 2) + '\n');
    const reviewed = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>;
    expect(surface).toEqual(reviewed);
  });

  it('keeps internals out', () => {
    for (const internal of ['toVec3', 'requireRng', 'cropData', 'loadCase', 'collate', 'loadBinding', 'adopt', 'writeFileAtomic', 'deriveRng']) {
      expect(Object.keys(api)).not.toContain(internal);
    }
  });
});
