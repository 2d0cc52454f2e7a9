#include "dice_metric.h"

#include <cmath>
#include <limits>

#include "../errors.h"

namespace liverseg {

torch::Tensor dice_metric_masks(const torch::Tensor& pred, const torch::Tensor& target) {
  require(pred.sizes() == target.sizes(), "Invalid argument 'labels': shape does not match the prediction", "ERR_SHAPE_MISMATCH");
  require(pred.dim() >= 3, "Invalid argument 'prediction': expected [B, C, ...]", "ERR_SHAPE_MISMATCH");
  torch::NoGradGuard no_grad;
  std::vector<int64_t> reduce;
  for (int64_t d = 2; d < pred.dim(); ++d) reduce.push_back(d);
  torch::Tensor p = pred.ne(0).to(torch::kFloat64);
  torch::Tensor g = target.ne(0).to(torch::kFloat64);
  torch::Tensor inter = (p * g).sum(reduce);
  torch::Tensor gsum = g.sum(reduce);
  torch::Tensor dice = 2.0 * inter / (p.sum(reduce) + gsum);
  return torch::where(gsum > 0, dice, torch::full_like(dice, std::numeric_limits<double>::quiet_NaN())).cpu();
}

torch::Tensor dice_metric(const torch::Tensor& logits, const torch::Tensor& target) {
  torch::NoGradGuard no_grad;
  return dice_metric_masks(logits.gt(0), target);
}

double nan_mean(const torch::Tensor& values) {
  auto v = values.to(torch::kCPU, torch::kFloat64).contiguous();
  const double* p = v.data_ptr<double>();
  double sum = 0;
  int64_t n = 0;
  for (int64_t i = 0; i < v.numel(); ++i) {
    if (std::isfinite(p[i])) {
      sum += p[i];
      ++n;
    }
  }
  return n ? sum / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace liverseg
