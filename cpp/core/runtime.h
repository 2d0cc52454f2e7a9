// Process-wide LibTorch settings: devices, threads, seeds, and a description of the backend.
#pragma once
#include <torch/torch.h>

#include <string>

namespace liverseg {

struct BackendInfo {
  std::string torch_version;
  bool cuda_available = false;
  int cuda_device_count = 0;
  bool built_with_cuda = false;
  bool mkldnn = false;
  int num_threads = 1;
  std::string default_device;
};

BackendInfo backend_info();

// "auto" picks CUDA when it is there; "cuda:1" and "cpu" are taken as they are.
torch::Device resolve_device(const std::string& name);

// Called once at load: LibTorch starts with one intra-op thread on some builds; use every core
// unless LIVERSEG_NUM_THREADS says otherwise.
void init_threads();
void set_num_threads(int n);

void manual_seed(uint64_t seed);

// Peak and current device memory in bytes (0 when the device keeps no statistics, as on the CPU).
struct DeviceMemory {
  int64_t allocated = 0;
  int64_t peak_allocated = 0;
  int64_t reserved = 0;
};
DeviceMemory device_memory(const torch::Device& device);
void reset_peak_memory(const torch::Device& device);
void release_cached_memory();

}  // namespace liverseg
