/**
 * The one place that knows where the compiled addon lives. node-gyp-build looks for a prebuild
 * matching this platform in prebuilds/, then for a local build in build/Release; when neither
 * loads, the error says what was tried and how to fix it instead of a raw dlopen message.
 */
import * as fs from 'fs';
import * as path from 'path';
import { LiversegError } from '../errors';
import type { NativeBinding, NativeBackend } from './binding';

let cached: NativeBinding | undefined;

/** The package root (folder of package.json), whether running from lib/ or from src/ts/. */
export function packageRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'CMakeLists.txt'))) return dir;
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '..', '..');
}

function explain(err: unknown, root: string): LiversegError {
  const raw = err instanceof Error ? err.message : String(err);
  const missingLib = /(lib[\w.+-]+\.so[\w.]*): cannot open shared object file/.exec(raw);
  const tried = [
    path.join(root, 'prebuilds', `${process.platform}-${process.arch}`),
    path.join(root, 'build', 'Release', 'liverseg.node'),
  ];
  let how: string;
  if (missingLib) {
    how =
      `The addon was found but the shared library ${missingLib[1]} (part of LibTorch) could not be loaded. ` +
      `Install LibTorch (Debian/Ubuntu: 'apt-get install libtorch-dev'), or rebuild against your own LibTorch ` +
      `with 'Torch_DIR=/path/to/libtorch/share/cmake/Torch npm run build:native'.`;
  } else if (/No native build was found|Cannot find module/.test(raw)) {
    how =
      `No compiled addon matches ${process.platform}-${process.arch} (Node-API). Build it from source: ` +
      `'npm run build:native' (needs CMake, a C++17 compiler and LibTorch: 'apt-get install libtorch-dev').`;
  } else {
    how = `Loading it failed: ${raw.split('\n')[0]}. Rebuild with 'npm run build:native'.`;
  }
  return new LiversegError('ERR_NATIVE_LOAD', `liverseg could not load its native addon. Tried: ${tried.join(', ')}. ${how}`, {
    cause: err,
  });
}

/** Loads the addon once per process; later calls (and other jest test files) share it. */
export function loadBinding(): NativeBinding {
  if (cached) return cached;
  const root = packageRoot();
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
    cached = nodeGypBuild(root) as NativeBinding;
  } catch (err) {
    throw explain(err, root);
  }
  return cached;
}

/** What the native backend offers: LibTorch version, CUDA, threads. */
export function backend(): NativeBackend {
  return loadBinding().backend();
}
