#include "resize.h"

#include "../errors.h"

namespace liverseg {

namespace {
void check(const torch::Tensor& v, const std::array<int64_t, 3>& size) {
  require(v.dim() == 3, "Invalid argument 'volume': expected a 3D volume", "ERR_SHAPE_MISMATCH");
  for (auto s : size) require(s >= 1 && s <= (int64_t(1) << 20), "Invalid argument 'size': each size must be from 1 to 2^20");
}
}  // namespace

torch::Tensor resize_area(const torch::Tensor& volume, const std::array<int64_t, 3>& size) {
  check(volume, size);
  torch::NoGradGuard no_grad;
  torch::Tensor x = volume.to(torch::kFloat32).unsqueeze(0).unsqueeze(0);
  x = torch::adaptive_avg_pool3d(x, {size[0], size[1], size[2]});
  return x.squeeze(0).squeeze(0).contiguous();
}

torch::Tensor resize_nearest(const torch::Tensor& volume, const std::array<int64_t, 3>& size) {
  check(volume, size);
  torch::NoGradGuard no_grad;
  torch::Tensor x = volume;
  for (int a = 0; a < 3; ++a) {
    const int64_t in = volume.size(a), out = size[a];
    if (in == out) continue;
    // floor(dst * in / out) in exact integer arithmetic
    torch::Tensor idx = torch::arange(out, torch::dtype(torch::kInt64).device(volume.device())).mul(in).div(out, "floor");
    x = x.index_select(a, idx);
  }
  return x.contiguous();
}

torch::Tensor resize_linear(const torch::Tensor& volume, const std::array<int64_t, 3>& size) {
  check(volume, size);
  torch::NoGradGuard no_grad;
  torch::Tensor x = volume.to(torch::kFloat32).unsqueeze(0).unsqueeze(0);
  x = torch::upsample_trilinear3d(x, {size[0], size[1], size[2]}, /*align_corners=*/false);
  return x.squeeze(0).squeeze(0).contiguous();
}

}  // namespace liverseg
