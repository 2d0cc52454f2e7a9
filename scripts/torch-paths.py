"""Prints, on one line marked LIVERSEG|, what CMakeLists.txt needs to build against this Python's
torch without find_package: include dirs, library dirs, the C++ ABI flag, CUDA or not, the torch
version, and include dirs holding the CUDA runtime headers (for the allocator's statistics)."""
import glob
import os
import sys

import torch
import torch.utils.cpp_extension as ext

cuda = torch.version.cuda is not None
cuda_includes = []
if cuda:
    candidates = []
    if ext.CUDA_HOME:
        candidates.append(os.path.join(ext.CUDA_HOME, "include"))
    candidates.append("/usr/local/cuda/include")
    for site in sys.path:
        candidates += glob.glob(os.path.join(site, "nvidia", "cuda_runtime", "include"))
        candidates += glob.glob(os.path.join(site, "nvidia", "cu*", "include"))
    cuda_includes = [c for c in candidates if os.path.isfile(os.path.join(c, "cuda_runtime_api.h"))][:1]

fields = [
    ",".join(ext.include_paths()),
    ",".join(ext.library_paths()),
    str(int(torch._C._GLIBCXX_USE_CXX11_ABI)),
    str(int(cuda)),
    torch.__version__.split("+")[0],
    ",".join(cuda_includes),
]
print("LIVERSEG|" + "|".join(fields))
