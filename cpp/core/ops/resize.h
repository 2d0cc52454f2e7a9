#pragma once
#include <torch/torch.h>

#include <array>

namespace liverseg {

// Area resize (PyTorch's adaptive average pooling bins) of a [D, H, W] volume of any dtype; float32 out.
torch::Tensor resize_area(const torch::Tensor& volume, const std::array<int64_t, 3>& size);

// Nearest resize, src = floor(dst * in / out), keeping the dtype (labels stay integers).
torch::Tensor resize_nearest(const torch::Tensor& volume, const std::array<int64_t, 3>& size);

// Trilinear resize (align_corners = false) to float32.
torch::Tensor resize_linear(const torch::Tensor& volume, const std::array<int64_t, 3>& size);

}  // namespace liverseg
