/** What a user reads when the addon cannot load: the file, the missing library, and the command that fixes it. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { explainLoadFailure } from '../../src/ts/native/loader';

describe('ERR_NATIVE_LOAD messages', () => {
  // An installed package (no tsconfig.json beside it), as a dependent project has it.
  const installed = fs.mkdtempSync(path.join(os.tmpdir(), 'liverseg-installed-'));
  afterAll(() => fs.rmSync(installed, { recursive: true, force: true }));

  it('names a missing LibTorch library and its version, and says what to run, npm 11 included', () => {
    const e = explainLoadFailure(new Error('libtorch_cpu.so.1.13: cannot open shared object file: No such file or directory'), installed);
    expect(e.code).toBe('ERR_NATIVE_LOAD');
    expect(e.message).toContain('libtorch_cpu.so.1.13 (part of LibTorch) was not found (the addon was built against LibTorch 1.13)');
    expect(e.message).toContain('apt-get install libtorch-dev');
    expect(e.message).toContain('npx liverseg-build');
    expect(e.message).toContain('npm install-scripts approve liverseg');
    expect(e.message).not.toContain('cannot open shared object file');
  });

  it('explains that no build matches this platform', () => {
    const e = explainLoadFailure(new Error('No native build was found for platform=linux arch=x64'), installed);
    expect(e.message).toContain(`no compiled addon matches ${process.platform}-${process.arch}`);
    expect(e.message).toContain("'npx liverseg-build'");
  });

  it('in a checkout, points at the checkout build instead', () => {
    const e = explainLoadFailure(new Error('No native build was found'), path.join(__dirname, '..', '..'));
    expect(e.message).toContain("'npm run build:native'");
    expect(e.message).not.toContain('install-scripts');
  });
});
