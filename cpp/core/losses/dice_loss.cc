#include "dice_loss.h"

#include "../errors.h"

namespace liverseg {

torch::Tensor dice_loss(const torch::Tensor& logits, const torch::Tensor& target, bool include_background, double smooth) {
  require(logits.sizes() == target.sizes(), "Invalid argument 'labels': shape does not match the prediction", "ERR_SHAPE_MISMATCH");
  require(logits.dim() >= 3, "Invalid argument 'logits': expected [B, C, ...]", "ERR_SHAPE_MISMATCH");
  // Sums in float32 even under autocast: half-precision sums over 2M voxels lose the loss entirely.
  torch::Tensor p = torch::sigmoid(logits.to(torch::kFloat32));
  torch::Tensor g = target.to(torch::kFloat32);
  if (!include_background && logits.size(1) > 1) {
    p = p.narrow(1, 1, logits.size(1) - 1);
    g = g.narrow(1, 1, logits.size(1) - 1);
  }
  std::vector<int64_t> reduce;
  for (int64_t d = 2; d < logits.dim(); ++d) reduce.push_back(d);
  torch::Tensor inter = (p * g).sum(reduce);
  torch::Tensor denom = p.sum(reduce) + g.sum(reduce);
  return (1.0 - (2.0 * inter + smooth) / (denom + smooth)).mean();
}

}  // namespace liverseg
