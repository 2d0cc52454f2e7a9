#include "runtime.h"

#include <ATen/Config.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <cstdlib>
#include <thread>

#include "errors.h"

#ifdef LIVERSEG_CUDA_STATS
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace liverseg {

BackendInfo backend_info() {
  BackendInfo info;
  info.torch_version = TORCH_VERSION;
  info.cuda_available = torch::cuda::is_available();
  info.cuda_device_count = info.cuda_available ? static_cast<int>(torch::cuda::device_count()) : 0;
#ifdef LIVERSEG_WITH_CUDA
  info.built_with_cuda = true;
#endif
  info.mkldnn = AT_MKLDNN_ENABLED();
  info.num_threads = at::get_num_threads();
  info.default_device = info.cuda_available ? "cuda" : "cpu";
  return info;
}

torch::Device resolve_device(const std::string& name) {
  if (name.empty() || name == "auto") {
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  }
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available()) {
      throw CoreError("ERR_CUDA_UNAVAILABLE", "Device '" + name + "' was asked for, but this LibTorch has no usable CUDA device");
    }
    torch::Device d(name);
    require(!d.has_index() || d.index() < static_cast<int>(torch::cuda::device_count()), "Device '" + name + "' does not exist", "ERR_CUDA_UNAVAILABLE");
    return d;
  }
  throw CoreError("ERR_INVALID_ARG", "Invalid argument 'device': expected 'auto', 'cpu' or 'cuda[:N]', got '" + name + "'");
}

void set_num_threads(int n) {
  require(n >= 1 && n <= 1024, "Invalid argument 'threads': expected an integer from 1 to 1024");
  at::set_num_threads(n);
}

void init_threads() {
  int n = static_cast<int>(std::thread::hardware_concurrency());
  if (const char* env = std::getenv("LIVERSEG_NUM_THREADS")) {
    int v = std::atoi(env);
    if (v > 0) n = v;
  }
  if (n > 0) at::set_num_threads(n);
}

void manual_seed(uint64_t seed) { torch::manual_seed(seed); }

DeviceMemory device_memory(const torch::Device& device) {
  DeviceMemory m;
#ifdef LIVERSEG_CUDA_STATS
  if (device.is_cuda()) {
    auto idx = device.has_index() ? device.index() : 0;
    auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(idx);
    // Index 0 is the AGGREGATE stat in every LibTorch version; the enum's namespace moved between versions.
    const size_t agg = 0;
    m.allocated = stats.allocated_bytes[agg].current;
    m.peak_allocated = stats.allocated_bytes[agg].peak;
    m.reserved = stats.reserved_bytes[agg].current;
  }
#else
  (void)device;
#endif
  return m;
}

void reset_peak_memory(const torch::Device& device) {
#ifdef LIVERSEG_CUDA_STATS
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.has_index() ? device.index() : 0);
#else
  (void)device;
#endif
}

void release_cached_memory() {
#ifdef LIVERSEG_CUDA_STATS
  if (torch::cuda::is_available()) c10::cuda::CUDACachingAllocator::emptyCache();
#endif
}

}  // namespace liverseg
