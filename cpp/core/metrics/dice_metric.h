#pragma once
#include <torch/torch.h>

#include <vector>

namespace liverseg {

// MONAI DiceMetric on a binarised prediction (logit > 0): one value per sample and channel,
// [B, C]; NaN where the ground truth is empty, so the caller can leave it out of the mean.
torch::Tensor dice_metric(const torch::Tensor& logits, const torch::Tensor& target);

// The same on masks already thresholded (non-zero = foreground).
torch::Tensor dice_metric_masks(const torch::Tensor& pred, const torch::Tensor& target);

// Mean over the finite values; NaN when there are none.
double nan_mean(const torch::Tensor& values);

}  // namespace liverseg
