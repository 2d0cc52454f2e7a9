#!/usr/bin/env node
/**
 * `npx liverseg-build`: builds the native addon from source for this machine (CMake, a C++17
 * compiler and LibTorch needed; see scripts/install.js for where LibTorch is looked for). The
 * explicit form of the install step, for npm 11, which skips a dependency's install script until
 * the user approves it.
 */
'use strict';
if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(
    "Usage: liverseg-build\n\nBuilds liverseg's native addon from source with cmake-js, against the LibTorch found through\n" +
      "Torch_DIR / CMAKE_PREFIX_PATH, Debian's libtorch-dev or a PyTorch installation. Needs CMake and a C++17 compiler.\n",
  );
} else {
  process.argv.push('--build-from-source');
  require('./install.js');
}
