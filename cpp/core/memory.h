// Recognising allocation failures, wherever LibTorch reports them from.
#pragma once
#include <exception>

namespace liverseg {

// True for LibTorch's "out of memory" errors (CUDA's caching allocator and the CPU allocator).
bool is_out_of_memory(const std::exception& e);

}  // namespace liverseg
