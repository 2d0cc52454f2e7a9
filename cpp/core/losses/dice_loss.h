#pragma once
#include <torch/torch.h>

namespace liverseg {

// MONAI DiceLoss(sigmoid=True, include_background): per sample and channel
// 1 - (2 sum(p g) + smooth) / (sum(p) + sum(g) + smooth), p = sigmoid(logits), then the mean.
// include_background = false drops channel 0 when there are several channels; with one channel it
// is ignored, as MONAI does (MONAI warns "single channel prediction, include_background=False ignored").
torch::Tensor dice_loss(const torch::Tensor& logits, const torch::Tensor& target, bool include_background = true, double smooth = 1e-5);

}  // namespace liverseg
