// Recognising allocation failures, wherever LibTorch reports them from, and saying them in our words.
#pragma once
#include <cstdint>
#include <exception>
#include <string>

namespace liverseg {

// True for LibTorch's allocation failures: CUDA's caching allocator ("CUDA out of memory. Tried
// to allocate 2.00 GiB (GPU 0; ...)"), the CPU allocator ("DefaultCPUAllocator: can't allocate
// memory: you tried to allocate 275000000000 bytes. Error code 12 ...") and std::bad_alloc.
bool is_out_of_memory(const std::exception& e);
// Only the device (CUDA) kind, which sliding-window stitching can retry with CPU sums.
bool is_device_out_of_memory(const std::exception& e);

// "256.1 GiB", "12.0 MiB", "512 bytes": binary units, one decimal.
std::string format_bytes(double bytes);

// The message for an allocation failure, in our words and without the allocator's text:
// "Out of memory: could not allocate 256.1 GiB on cpu; ..." (size and device where the allocator
// told them). Call only when is_out_of_memory(e).
std::string out_of_memory_message(const std::exception& e);

}  // namespace liverseg
