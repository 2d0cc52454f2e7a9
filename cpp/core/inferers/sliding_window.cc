#include "sliding_window.h"

#include <cmath>

#include "../errors.h"
#include "../memory.h"
#include "../runtime.h"

namespace liverseg {

namespace F = torch::nn::functional;

std::vector<int64_t> window_starts(int64_t size, int64_t roi, double overlap) {
  std::vector<int64_t> starts;
  if (size <= roi) return {0};
  const int64_t step = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(roi) * (1.0 - overlap)));
  const int64_t count = (size - roi + step - 1) / step + 1;
  for (int64_t i = 0; i < count; ++i) starts.push_back(std::min(i * step, size - roi));
  return starts;
}

int64_t window_count(int64_t size, int64_t roi, double overlap) {
  if (size <= roi) return 1;
  const int64_t step = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(roi) * (1.0 - overlap)));
  return (size - roi + step - 1) / step + 1;
}

// MONAI 1.4's compute_importance_map (monai/data/utils.py), gaussian mode, exactly:
//   sigma_a = sigma_scale * roi_a
//   x_a = arange(-(roi_a - 1) / 2, (roi_a - 1) / 2 + 1) in float32   (centre (roi_a - 1) / 2 in voxel index)
//   g_a = exp(x_a^2 / (-2 sigma_a^2));  map = (g_0 outer g_1) outer g_2, in float32
//   map = clamp(map, min = max(min(map), 1e-3))   (which is clamp(map, min = 1e-3))
// MONAI does NOT divide by the maximum: for an odd roi the centre voxel is exp(0) = 1 anyway; for an
// even roi the two middle voxels are exp(-0.25 / (2 sigma^2)) < 1 on that axis and the map's
// maximum stays below 1. The blend divides by the summed weights, so a common scale only matters
// through the 1e-3 floor, and we keep MONAI's (no rescaling before the floor). SPEC 5's
// "normalised to a maximum of 1" holds for odd sizes only; MONAI's code is what we follow.
torch::Tensor importance_map(const std::array<int64_t, 3>& roi, BlendMode mode, double sigma_scale, const torch::TensorOptions& options) {
  auto opts = options.dtype(torch::kFloat32);
  if (mode == BlendMode::Constant) return torch::ones({roi[0], roi[1], roi[2]}, opts);
  std::vector<torch::Tensor> axes;
  for (int a = 0; a < 3; ++a) {
    const double sigma = sigma_scale * static_cast<double>(roi[a]);
    require(sigma > 0, "Invalid argument 'sigmaScale': must be > 0");
    const double half = static_cast<double>(roi[a] - 1) / 2.0;
    torch::Tensor x = torch::arange(-half, half + 1.0, torch::dtype(torch::kFloat32));
    axes.push_back(torch::exp(x.pow(2) / (-2.0 * sigma * sigma)));
  }
  torch::Tensor w = axes[0].view({-1, 1, 1}) * axes[1].view({1, -1, 1}) * axes[2].view({1, 1, -1});
  const double floor = std::max(w.min().item<double>(), 1e-3);
  return w.clamp_min(floor).to(opts);
}

namespace {

torch::Tensor run_windows(const torch::Tensor& input, const Predictor& predict, const SlidingWindowOptions& o, const torch::Device& acc_device) {
  const std::array<int64_t, 3> size{input.size(2), input.size(3), input.size(4)};
  std::array<std::vector<int64_t>, 3> starts;
  for (int a = 0; a < 3; ++a) starts[a] = window_starts(size[a], o.roi[a], o.overlap);
  std::vector<std::array<int64_t, 3>> windows;
  for (auto z : starts[0])
    for (auto y : starts[1])
      for (auto x : starts[2]) windows.push_back({z, y, x});

  torch::Tensor weight = importance_map(o.roi, o.mode, o.sigma_scale, torch::TensorOptions().device(input.device()));
  torch::Tensor weight_acc = weight.to(acc_device);
  torch::Tensor out;  // allocated after the first batch tells the output channel count
  torch::Tensor norm = torch::zeros({1, 1, size[0], size[1], size[2]}, torch::dtype(torch::kFloat32).device(acc_device));

  for (size_t first = 0; first < windows.size(); first += static_cast<size_t>(o.batch_size)) {
    if (o.cancel && __atomic_load_n(o.cancel, __ATOMIC_RELAXED) != 0) throw Cancelled();
    const size_t last = std::min(windows.size(), first + static_cast<size_t>(o.batch_size));
    std::vector<torch::Tensor> crops;
    for (size_t w = first; w < last; ++w) {
      const auto& s = windows[w];
      crops.push_back(input.narrow(2, s[0], o.roi[0]).narrow(3, s[1], o.roi[1]).narrow(4, s[2], o.roi[2]));
    }
    torch::Tensor batch = crops.size() == 1 ? crops[0].contiguous() : torch::cat(crops, 0);
    crops.clear();
    torch::Tensor pred = predict(batch);
    batch = torch::Tensor();
    pred = pred.to(torch::kFloat32);
    pred.mul_(weight);
    pred = pred.to(acc_device);
    if (!out.defined()) out = torch::zeros({1, pred.size(1), size[0], size[1], size[2]}, torch::dtype(torch::kFloat32).device(acc_device));
    for (size_t w = first; w < last; ++w) {
      const auto& s = windows[w];
      out.narrow(2, s[0], o.roi[0]).narrow(3, s[1], o.roi[1]).narrow(4, s[2], o.roi[2]).add_(pred[static_cast<int64_t>(w - first)]);
      norm.narrow(2, s[0], o.roi[0]).narrow(3, s[1], o.roi[1]).narrow(4, s[2], o.roi[2]).add_(weight_acc);
    }
  }
  out.div_(norm);
  return out;
}

}  // namespace

torch::Tensor sliding_window_inference(const torch::Tensor& input, const Predictor& predict, const SlidingWindowOptions& o) {
  require(input.dim() == 5 && input.size(0) == 1, "Invalid argument 'volume': expected [1, C, D, H, W]", "ERR_SHAPE_MISMATCH");
  for (auto r : o.roi) require(r >= 1, "Invalid argument 'roi': sizes must be >= 1");
  require(o.overlap >= 0 && o.overlap < 1, "Invalid argument 'overlap': must be in [0, 1)");
  require(o.batch_size >= 1, "Invalid argument 'batchSize': must be >= 1");
  {
    // The window count is bounded before anything is allocated: overlap 0.99 gives one window per
    // voxel step (a 1 s segmentation took 364 s). TypeScript checks this too, naming the option as
    // the caller wrote it; this is the invariant.
    int64_t windows = 1;
    for (int a = 0; a < 3; ++a) windows *= window_count(std::max(input.size(2 + a), o.roi[a]), o.roi[a], o.overlap);
    require(windows <= kMaxWindows, "Invalid argument 'overlap': overlap " + c10::str(o.overlap) + " with roi [" + std::to_string(o.roi[0]) + ", " +
                                        std::to_string(o.roi[1]) + ", " + std::to_string(o.roi[2]) + "] needs " + std::to_string(windows) +
                                        " windows, more than " + std::to_string(kMaxWindows) + "; use a smaller overlap or a larger roi");
  }

  // Volumes smaller than a window are padded symmetrically (floor before), like SpatialPad.
  std::array<int64_t, 3> before{0, 0, 0}, after{0, 0, 0};
  bool padded = false;
  for (int a = 0; a < 3; ++a) {
    const int64_t diff = o.roi[a] - input.size(2 + a);
    if (diff > 0) {
      before[a] = diff / 2;
      after[a] = diff - before[a];
      padded = true;
    }
  }
  torch::Tensor x = padded ? F::pad(input, F::PadFuncOptions({before[2], after[2], before[1], after[1], before[0], after[0]})) : input;

  const int64_t out_bytes_guess = x.numel() / x.size(1) * 4 * 2;
  torch::Device acc = x.device();
  if (o.accumulate == Accumulate::Cpu || (o.accumulate == Accumulate::Auto && x.is_cuda() && out_bytes_guess > o.device_limit_bytes)) acc = torch::kCPU;

  torch::Tensor out;
  try {
    out = run_windows(x, predict, o, acc);
  } catch (const Cancelled&) {
    throw;
  } catch (const std::exception& e) {
    if (!(o.accumulate == Accumulate::Auto && acc.is_cuda() && is_device_out_of_memory(e))) throw;
    // Stitching a large volume is where GPU memory usually runs out: retry with the sums on the CPU.
    release_cached_memory();
    out = run_windows(x, predict, o, torch::kCPU);
  }
  if (padded) {
    out = out.narrow(2, before[0], input.size(2)).narrow(3, before[1], input.size(3)).narrow(4, before[2], input.size(4));
  }
  return out;
}

}  // namespace liverseg
