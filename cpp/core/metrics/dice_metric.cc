#include "dice_metric.h"

#include <cmath>
#include <limits>

#include "../errors.h"

namespace liverseg {

torch::Tensor binarize_logits(const torch::Tensor& logits) {
  // MONAI's Activations(sigmoid=True) then AsDiscrete(threshold=0.5), whose test is >=: in real
  // numbers that is logit >= 0 (sigmoid(0) = 0.5 counts); taken on the float32 sigmoid as MONAI
  // does, so the few logits just below 0 whose float32 sigmoid rounds to 0.5 count too.
  return torch::sigmoid(logits.to(torch::kFloat32)).ge(0.5);
}

torch::Tensor dice_metric_masks(const torch::Tensor& pred, const torch::Tensor& target, bool include_background) {
  require(pred.sizes() == target.sizes(), "Invalid argument 'labels': shape does not match the prediction", "ERR_SHAPE_MISMATCH");
  require(pred.dim() >= 3, "Invalid argument 'prediction': expected [B, C, ...]", "ERR_SHAPE_MISMATCH");
  torch::NoGradGuard no_grad;
  std::vector<int64_t> reduce;
  for (int64_t d = 2; d < pred.dim(); ++d) reduce.push_back(d);
  const int64_t channels = pred.size(1);
  torch::Tensor p = pred.ne(0).to(torch::kFloat64);
  torch::Tensor g = (channels == 1 ? target.eq(1) : target.ne(0)).to(torch::kFloat64);
  if (!include_background && channels > 1) {
    p = p.narrow(1, 1, channels - 1);
    g = g.narrow(1, 1, channels - 1);
  }
  torch::Tensor inter = (p * g).sum(reduce);
  torch::Tensor gsum = g.sum(reduce);
  torch::Tensor dice = 2.0 * inter / (p.sum(reduce) + gsum);
  return torch::where(gsum > 0, dice, torch::full_like(dice, std::numeric_limits<double>::quiet_NaN())).cpu();
}

torch::Tensor dice_metric(const torch::Tensor& logits, const torch::Tensor& target, bool include_background) {
  torch::NoGradGuard no_grad;
  return dice_metric_masks(binarize_logits(logits), target, include_background);
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
