/** The layer rule of eslint.config.mjs catches an import against the order, and lets a correct one through. */
import { spawnSync } from 'child_process';
import * as path from 'path';

const root = path.join(__dirname, '..', '..');

/** Lints `code` as if it were `file`, with the repository's config, in a child process (the config is an ES module). */
async function lint(file: string, code: string): Promise<string[]> {
  const bin = path.join(root, 'node_modules', 'eslint', 'bin', 'eslint.js');
  const r = spawnSync(process.execPath, [bin, '--stdin', '--stdin-filename', file, '--format', 'json'], { cwd: root, input: code, encoding: 'utf8' });
  const [result] = JSON.parse(r.stdout) as Array<{ messages: Array<{ ruleId: string; message: string }> }>;
  return result.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe('the layer order', () => {
  it('refuses io/ importing from nets/ and geometry/ importing from native/', async () => {
    expect(await lint('src/ts/io/example.ts', "import { resolveArchitecture } from '../nets/config';\nexport const x = resolveArchitecture;\n")).toEqual([
      expect.stringMatching(/^no-restricted-imports: .*layer order.*io may import only from util, errors, volume, geometry, io/),
    ]);
    expect(await lint('src/ts/geometry/example.ts', "import { loadBinding } from '../native/loader';\nexport const x = loadBinding;\n")).toHaveLength(1);
    expect(await lint('src/ts/util/example.ts', "import { LiversegError } from '../errors';\nexport const x = LiversegError;\n")).toHaveLength(1);
  });

  it('accepts imports from earlier layers', async () => {
    expect(
      await lint(
        'src/ts/inferers/example.ts',
        "import { boundingBox } from '../geometry/boxes';\nimport { loadModel } from '../bundle/load-model';\nexport const x = [boundingBox, loadModel];\n",
      ),
    ).toEqual([]);
  });
});
