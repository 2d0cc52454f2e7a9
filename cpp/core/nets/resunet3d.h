// The seed report's 3D U-Net: five levels, max-pool down, trilinear 2x up, concatenated skips,
// residual or plain two-convolution blocks, a 1x1x1 head.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace liverseg {

// Residual blocks are ResTwoLayerConvBlock; plain ones are UnetTwoLayerBlock.
enum class Block { Residual, Plain };

struct ResUNetOptions {
  int64_t in_channels = 1;
  int64_t out_channels = 1;
  std::vector<int64_t> channels{16, 32, 64, 128, 256};
  Block block = Block::Residual;
  double dropout = 0.0;
};

// Conv3d 3x3x3 -> InstanceNorm (affine) -> Dropout -> ReLU, or Conv3d -> InstanceNorm when relu is false.
class ConvNormImpl : public torch::nn::Module {
 public:
  ConvNormImpl(int64_t in, int64_t out, int64_t kernel, double dropout, bool relu);
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::Conv3d conv{nullptr};
  torch::nn::InstanceNorm3d norm{nullptr};
  double dropout_;
  bool relu_;
};
TORCH_MODULE(ConvNorm);

class TwoLayerBlockImpl : public torch::nn::Module {
 public:
  TwoLayerBlockImpl(int64_t in, int64_t out, double dropout, bool residual);
  torch::Tensor forward(torch::Tensor x);

 private:
  ConvNorm first{nullptr};
  ConvNorm second{nullptr};
  ConvNorm shortcut{nullptr};  // residual blocks only
};
TORCH_MODULE(TwoLayerBlock);

class ResUNet3DImpl : public torch::nn::Module {
 public:
  explicit ResUNet3DImpl(const ResUNetOptions& options);
  // x: [B, C, D, H, W] of any spatial size; the output has the same spatial size.
  torch::Tensor forward(torch::Tensor x);
  const ResUNetOptions& options() const { return options_; }
  int64_t size_multiple() const;

 private:
  ResUNetOptions options_;
  std::vector<TwoLayerBlock> encoders_;
  std::vector<TwoLayerBlock> decoders_;  // decoders_[l] joins level l with level l + 1
  torch::nn::Conv3d head{nullptr};
};
TORCH_MODULE(ResUNet3D);

// Parameter count from the architecture alone, to check the module against.
int64_t expected_parameter_count(const ResUNetOptions& options);

}  // namespace liverseg
