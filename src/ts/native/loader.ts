/**
 * The one place that knows where the compiled addon lives. node-gyp-build looks for a prebuild
 * matching this platform in prebuilds/, then for a local build in build/Release; when neither
 * loads, the error says what was tried and how to fix it instead of a raw dlopen message.
 */
import * as fs from 'fs';
import * as path from 'path';
import { LiversegError } from '../errors';
import type { NativeBinding, NativeBackend } from './binding';
import { packageRoot } from '../util/package';

export { packageRoot };

let cached: NativeBinding | undefined;

/** The file node-gyp-build would load from `root`, or undefined when it finds none. */
function selectedAddon(root: string): string | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
    return nodeGypBuild.resolve(root);
  } catch {
    return undefined;
  }
}

/** The shared library a failed dlopen names: Linux ("cannot open shared object file") or macOS ("Library not loaded"). */
function missingLibrary(raw: string): string | undefined {
  const linux = /([\w.+-]+\.so[\w.]*): cannot open shared object file/.exec(raw);
  if (linux) return linux[1];
  const mac = /Library not loaded: (?:@rpath\/)?(\S+)/.exec(raw);
  return mac ? path.basename(mac[1]) : undefined;
}

/** The ERR_NATIVE_LOAD error for a failed load of the addon under `root`: what failed and what to run. */
export function explainLoadFailure(err: unknown, root: string): LiversegError {
  const raw = err instanceof Error ? err.message : String(err);
  const lib = missingLibrary(raw);
  const addon = selectedAddon(root);
  // An installed package is rebuilt by its own build command (npm 11 skips a dependency's install
  // script until the user approves it, so `npm rebuild` alone may do nothing); a checkout has its own script.
  const checkout = fs.existsSync(path.join(root, 'tsconfig.json'));
  const rebuild = checkout ? 'npm run build:native' : 'npx liverseg-build';
  const npm11 = checkout
    ? ''
    : ` With npm 11 or later the package's install step only runs once approved ('npm install-scripts approve liverseg', then 'npm rebuild liverseg'); 'npx liverseg-build' builds it directly.`;
  let message: string;
  if (lib) {
    const isTorch = /^lib(torch|c10|caffe2|shm|gomp|cudnn|cublas|cudart|nvrtc|nvToolsExt)/.test(lib);
    // Debian's LibTorch versions its sonames (libtorch_cpu.so.1.13): the addon needs that exact release.
    const version = /^lib(?:torch|c10)\w*\.so\.(\d+\.\d+)/.exec(lib)?.[1];
    message =
      `liverseg could not load its native addon ${addon ?? '(in ' + root + ')'}: ` +
      `the shared library ${lib}${isTorch ? ' (part of LibTorch)' : ''} was not found` +
      `${version ? ` (the addon was built against LibTorch ${version})` : ''}. ` +
      `Install LibTorch (Debian/Ubuntu: 'apt-get install libtorch-dev'), ` +
      `or point Torch_DIR at a LibTorch and rebuild the addon against it: ` +
      `'Torch_DIR=/path/to/libtorch/share/cmake/Torch ${rebuild}'.${npm11}`;
  } else if (/No native build was found|Cannot find module/.test(raw)) {
    const tried = [path.join(root, 'prebuilds', `${process.platform}-${process.arch}`), path.join(root, 'build', 'Release')];
    message =
      `liverseg could not load its native addon: no compiled addon matches ${process.platform}-${process.arch} ` +
      `(Node-API; looked in ${tried.join(' and ')}). Build it from source with '${rebuild}' ` +
      `(needs CMake, a C++17 compiler and LibTorch: on Debian/Ubuntu 'apt-get install cmake g++ libtorch-dev', ` +
      `or set Torch_DIR to a LibTorch's share/cmake/Torch folder).${npm11}`;
  } else {
    message = `liverseg could not load its native addon ${addon ?? '(in ' + root + ')'}: ${raw.split('\n')[0]}. ` + `Rebuild it with '${rebuild}'.${npm11}`;
  }
  return new LiversegError('ERR_NATIVE_LOAD', message, { cause: err });
}

/** LIVERSEG_NATIVE=off (or 0, false, no) makes the addon count as unavailable, as on a machine without LibTorch. */
export function nativeSwitchedOff(): boolean {
  return /^(off|0|false|no)$/i.test(process.env.LIVERSEG_NATIVE ?? '');
}

/** Loads the addon once per process; later calls (and other jest test files) share it. */
export function loadBinding(): NativeBinding {
  if (nativeSwitchedOff()) {
    throw new LiversegError(
      'ERR_NATIVE_LOAD',
      `liverseg's native addon is switched off (LIVERSEG_NATIVE=${process.env.LIVERSEG_NATIVE}): LibTorch is not loaded. ` +
        `Inference runs on onnxruntime-node instead (engine 'auto' or 'onnxruntime'); training needs the addon: unset LIVERSEG_NATIVE.`,
    );
  }
  if (cached) return cached;
  const root = packageRoot();
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
    cached = nodeGypBuild(root) as NativeBinding;
  } catch (err) {
    throw explainLoadFailure(err, root);
  }
  return cached;
}

/** What the native backend offers: LibTorch version, CUDA, threads. */
export function backend(): NativeBackend {
  return loadBinding().backend();
}

let availability: { ok: boolean; error?: LiversegError } | undefined;

/** Whether the addon loads here (false under LIVERSEG_NATIVE=off); never throws. The answer is kept for the process. */
export function nativeAvailable(): boolean {
  if (nativeSwitchedOff()) return false;
  if (!availability) {
    try {
      loadBinding();
      availability = { ok: true };
    } catch (e) {
      availability = { ok: false, error: e instanceof LiversegError ? e : new LiversegError('ERR_NATIVE_LOAD', String(e), { cause: e }) };
    }
  }
  return availability.ok;
}

/** Why the addon does not load (the ERR_NATIVE_LOAD error), or undefined when it does. */
export function nativeLoadError(): LiversegError | undefined {
  if (nativeSwitchedOff()) {
    try {
      loadBinding();
    } catch (e) {
      return e as LiversegError;
    }
  }
  return nativeAvailable() ? undefined : availability!.error;
}
