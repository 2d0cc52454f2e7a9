#pragma once
#include <torch/torch.h>

namespace liverseg {

// MONAI DiceLoss(sigmoid=True): per sample and channel
// 1 - (2 sum(p g) + smooth) / (sum(p) + sum(g) + smooth), p = sigmoid(logits), then the mean.
torch::Tensor dice_loss(const torch::Tensor& logits, const torch::Tensor& target, double smooth = 1e-5);

}  // namespace liverseg
