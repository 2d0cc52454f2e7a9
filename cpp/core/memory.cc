#include "memory.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

namespace liverseg {

namespace {

bool cpu_allocator_failure(const char* what) {
  // c10/core/impl/alloc_cpu.cpp: "DefaultCPUAllocator: can't allocate memory: you tried to
  // allocate N bytes." (Linux) and "DefaultCPUAllocator: not enough memory: ..." (Windows).
  return std::strstr(what, "can't allocate memory") != nullptr || std::strstr(what, "not enough memory: you tried to allocate") != nullptr;
}

bool cuda_allocator_failure(const char* what) { return std::strstr(what, "out of memory") != nullptr; }

// The number after `key` in `what`, or -1.
double number_after(const char* what, const char* key, const char** rest = nullptr) {
  const char* p = std::strstr(what, key);
  if (!p) return -1;
  p += std::strlen(key);
  char* end = nullptr;
  const double v = std::strtod(p, &end);
  if (end == p) return -1;
  if (rest) *rest = end;
  return v;
}

}  // namespace

bool is_device_out_of_memory(const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e)) return false;
  const char* what = e.what();
  return !cpu_allocator_failure(what) && cuda_allocator_failure(what);
}

bool is_out_of_memory(const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e)) return true;
  const char* what = e.what();
  return cpu_allocator_failure(what) || cuda_allocator_failure(what);
}

std::string format_bytes(double bytes) {
  const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(static_cast<int64_t>(bytes)) + " bytes";
  int u = -1;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f %s", bytes, units[u]);
  return buf;
}

std::string out_of_memory_message(const std::exception& e) {
  static const char* advice =
      "; the input, the window size (roi), the batch or the model is too large for the memory available "
      "(use smaller ones, or a machine with more memory)";
  if (dynamic_cast<const std::bad_alloc*>(&e)) return std::string("Out of memory: a host allocation failed") + advice;
  const char* what = e.what();
  if (cpu_allocator_failure(what)) {
    const double bytes = number_after(what, "you tried to allocate ");
    return "Out of memory: could not allocate " + (bytes >= 0 ? format_bytes(bytes) : std::string("memory")) + " on cpu" + advice;
  }
  // CUDA: "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.78 GiB total capacity; ...)"
  const char* unit = nullptr;
  double amount = number_after(what, "Tried to allocate ", &unit);
  if (amount >= 0 && unit) {
    while (*unit == ' ') ++unit;
    const double scale = std::strncmp(unit, "TiB", 3) == 0   ? std::pow(1024.0, 4)
                         : std::strncmp(unit, "GiB", 3) == 0 ? std::pow(1024.0, 3)
                         : std::strncmp(unit, "MiB", 3) == 0 ? std::pow(1024.0, 2)
                         : std::strncmp(unit, "KiB", 3) == 0 ? 1024.0
                                                             : 1.0;
    amount *= scale;
  }
  const double gpu = number_after(what, "GPU ");  // "(GPU 0; ..." (1.13) or ". GPU 0 has ..." (2.x)
  const std::string device = gpu >= 0 ? "cuda:" + std::to_string(static_cast<int>(gpu)) : std::string("cuda");
  return "Out of memory: could not allocate " + (amount >= 0 ? format_bytes(amount) : std::string("memory")) + " on " + device + advice;
}

}  // namespace liverseg
