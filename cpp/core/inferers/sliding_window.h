// Sliding-window inference with MONAI's scan and blending rules: windows start every
// int(roi * (1 - overlap)) voxels with the last one pulled back to the edge, outputs are blended
// with constant or Gaussian weights and divided by the summed weights.
#pragma once
#include <torch/torch.h>

#include <array>
#include <atomic>
#include <functional>
#include <vector>

namespace liverseg {

// How window outputs are weighted before they are summed.
enum class BlendMode { Gaussian, Constant };
// Where the blended output is summed: on the device, on the CPU, or on the device with a CPU
// fallback when the device runs out of memory or the output is larger than device_limit_bytes.
enum class Accumulate { Auto, Device, Cpu };

struct SlidingWindowOptions {
  std::array<int64_t, 3> roi{128, 128, 128};  // [D, H, W] = [nk, nj, ni]
  double overlap = 0.25;
  BlendMode mode = BlendMode::Gaussian;
  double sigma_scale = 0.125;
  int64_t batch_size = 1;
  Accumulate accumulate = Accumulate::Auto;
  int64_t device_limit_bytes = int64_t(4) << 30;
  // Checked between batches of windows; non-zero cancels.
  const int32_t* cancel = nullptr;
};

using Predictor = std::function<torch::Tensor(const torch::Tensor&)>;

// Start offsets along one axis, MONAI's dense_patch_slices rule.
std::vector<int64_t> window_starts(int64_t size, int64_t roi, double overlap);
// window_starts(size, roi, overlap).size(), without building the list.
int64_t window_count(int64_t size, int64_t roi, double overlap);

// sliding_window_inference refuses more windows than this (ERR_INVALID_ARG naming overlap and roi).
constexpr int64_t kMaxWindows = 100000;

// MONAI 1.4's compute_importance_map: a separable Gaussian (sigma = sigma_scale * roi) centred at
// (roi - 1) / 2 on each axis, float32, clamped to at least 1e-3 (not rescaled: its maximum is 1
// for odd sizes and below 1 for even ones); or all ones for BlendMode::Constant.
torch::Tensor importance_map(const std::array<int64_t, 3>& roi, BlendMode mode, double sigma_scale, const torch::TensorOptions& options);

// input: [1, C, D, H, W] already on the model's device. Returns [1, O, D, H, W] float32 blended
// outputs, on the device or the CPU depending on where they were accumulated.
torch::Tensor sliding_window_inference(const torch::Tensor& input, const Predictor& predict, const SlidingWindowOptions& options);

}  // namespace liverseg
