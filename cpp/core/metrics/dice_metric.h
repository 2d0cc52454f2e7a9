#pragma once
#include <torch/torch.h>

#include <vector>

namespace liverseg {

// MONAI DiceMetric (include_background, reduction none, ignore_empty) after
// AsDiscrete(threshold=0.5) on the sigmoid, i.e. a voxel is predicted where logit >= 0.
// Ground truth: with one channel, label == 1 (MONAI compares the single channel with class 1);
// with several channels, each channel is its own binary target (non-zero = foreground).
// include_background = false drops channel 0 when there are several channels and is ignored with
// one. Returns [B, C'] per case and channel, float64, NaN where the ground truth is empty.
torch::Tensor dice_metric(const torch::Tensor& logits, const torch::Tensor& target, bool include_background = true);

// sigmoid(logits) >= 0.5 in float32 (MONAI's AsDiscrete(threshold=0.5) after the sigmoid): a
// bool tensor, true where logit >= 0 (and where a logit just below 0 has a float32 sigmoid of 0.5).
torch::Tensor binarize_logits(const torch::Tensor& logits);

// The same on predictions already binarised (non-zero = foreground).
torch::Tensor dice_metric_masks(const torch::Tensor& pred, const torch::Tensor& target, bool include_background = true);

// Mean over the finite values; NaN when there are none.
double nan_mean(const torch::Tensor& values);

}  // namespace liverseg
