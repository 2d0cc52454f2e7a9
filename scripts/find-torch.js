/**
 * Where LibTorch comes from, decided once for every build path (scripts/setup.js in a checkout,
 * scripts/install.js and `npx liverseg-build` in an installed package), in this order:
 *   1. Torch_DIR or CMAKE_PREFIX_PATH from the environment;
 *   2. LIVERSEG_TORCH_FROM_PYTHON=1: include and library paths straight from python3's torch
 *      (scripts/torch-paths.py; for CUDA wheels whose CMake config fails on CUDA look-ups);
 *   3. Debian's libtorch-dev (/usr/lib/<arch>/cmake/Torch);
 *   4. a PyTorch installation's torch.utils.cmake_prefix_path.
 * The answer becomes cmake-js arguments, so CMakeLists.txt itself only consumes Torch_DIR or
 * LIVERSEG_TORCH_FROM_PYTHON and never searches on its own.
 * Plain Node, no dependencies: it runs before `npm ci`.
 */
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const truthy = (v) => v !== undefined && v !== '' && v !== '0' && v !== 'false';

/** @returns {{ source: string, cmakeArgs: string[] } | null} */
function findTorch(env = process.env) {
  if (env.Torch_DIR) return { source: `Torch_DIR=${env.Torch_DIR}`, cmakeArgs: [`--CDTorch_DIR=${env.Torch_DIR}`] };
  if (env.CMAKE_PREFIX_PATH) return { source: `CMAKE_PREFIX_PATH=${env.CMAKE_PREFIX_PATH}`, cmakeArgs: [`--CDCMAKE_PREFIX_PATH=${env.CMAKE_PREFIX_PATH}`] };
  const py = env.LIVERSEG_PYTHON || 'python3';
  if (truthy(env.LIVERSEG_TORCH_FROM_PYTHON))
    return { source: `${py} (include and library paths)`, cmakeArgs: ['--CDLIVERSEG_TORCH_FROM_PYTHON=ON', `--CDLIVERSEG_PYTHON=${py}`] };
  for (const arch of ['x86_64-linux-gnu', 'aarch64-linux-gnu']) {
    const dir = `/usr/lib/${arch}/cmake/Torch`;
    if (fs.existsSync(path.join(dir, 'TorchConfig.cmake'))) return { source: dir, cmakeArgs: [`--CDTorch_DIR=${dir}`] };
  }
  const r = spawnSync(py, ['-c', 'import torch, os; print(os.path.join(torch.utils.cmake_prefix_path, "Torch"))'], { encoding: 'utf8' });
  if (r.status === 0) {
    const dir = r.stdout.trim().split('\n').pop();
    if (dir && fs.existsSync(path.join(dir, 'TorchConfig.cmake'))) return { source: `${py}'s torch (${dir})`, cmakeArgs: [`--CDTorch_DIR=${dir}`] };
  }
  return null;
}

module.exports = { findTorch, truthy };
