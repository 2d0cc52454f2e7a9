#include "resunet3d.h"

#include "../errors.h"

namespace liverseg {

namespace F = torch::nn::functional;

ConvNormImpl::ConvNormImpl(int64_t in, int64_t out, int64_t kernel, double dropout, bool relu) : dropout_(dropout), relu_(relu) {
  conv = register_module("conv", torch::nn::Conv3d(torch::nn::Conv3dOptions(in, out, kernel).padding(kernel / 2)));
  norm = register_module("norm", torch::nn::InstanceNorm3d(torch::nn::InstanceNorm3dOptions(out).affine(true)));
  torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanIn, torch::kReLU);
}

torch::Tensor ConvNormImpl::forward(torch::Tensor x) {
  // One operation per statement: each reassignment frees the previous activation when no
  // graph holds it, which keeps inference peak memory near two activations.
  x = conv->forward(x);
  x = norm->forward(x);
  if (dropout_ > 0 && is_training()) x = torch::dropout(x, dropout_, true);
  // In place only without autograd: InstanceNorm returns a view, and an in-place op on a view
  // makes autograd copy the whole base tensor in backward (CopySlices), which costs more than it saves.
  if (relu_) x = torch::GradMode::is_enabled() ? torch::relu(x) : torch::relu_(x);
  return x;
}

TwoLayerBlockImpl::TwoLayerBlockImpl(int64_t in, int64_t out, double dropout, bool residual) {
  first = register_module("first", ConvNorm(in, out, 3, dropout, true));
  second = register_module("second", ConvNorm(out, out, 3, residual ? 0.0 : dropout, !residual));
  if (residual) shortcut = register_module("shortcut", ConvNorm(in, out, 1, 0.0, false));
}

torch::Tensor TwoLayerBlockImpl::forward(torch::Tensor x) {
  torch::Tensor y = first->forward(x);
  y = second->forward(y);
  if (!shortcut) return y;
  torch::Tensor s = shortcut->forward(x);
  x = torch::Tensor();
  if (!torch::GradMode::is_enabled()) {
    y.add_(s);
    return torch::relu_(y);
  }
  y = y + s;
  s = torch::Tensor();
  return torch::relu(y);
}

ResUNet3DImpl::ResUNet3DImpl(const ResUNetOptions& options) : options_(options) {
  const auto& ch = options.channels;
  require(ch.size() >= 2 && ch.size() <= 7, "Invalid argument 'channels': expected 2 to 7 levels", "ERR_INVALID_CONFIG");
  for (auto c : ch) require(c >= 1 && c <= 4096, "Invalid argument 'channels': each level needs 1 to 4096 channels", "ERR_INVALID_CONFIG");
  require(options.in_channels >= 1 && options.out_channels >= 1, "Invalid argument 'inChannels'/'outChannels': must be >= 1", "ERR_INVALID_CONFIG");
  require(options.dropout >= 0 && options.dropout < 1, "Invalid argument 'dropout': must be in [0, 1)", "ERR_INVALID_CONFIG");
  const bool residual = options.block == Block::Residual;
  for (size_t l = 0; l < ch.size(); ++l) {
    int64_t in = l == 0 ? options.in_channels : ch[l - 1];
    encoders_.push_back(register_module("enc" + std::to_string(l), TwoLayerBlock(in, ch[l], options.dropout, residual)));
  }
  for (size_t l = 0; l + 1 < ch.size(); ++l) {
    decoders_.push_back(register_module("dec" + std::to_string(l), TwoLayerBlock(ch[l] + ch[l + 1], ch[l], options.dropout, residual)));
  }
  head = register_module("head", torch::nn::Conv3d(torch::nn::Conv3dOptions(ch[0], options.out_channels, 1)));
  torch::nn::init::kaiming_normal_(head->weight, 0.0, torch::kFanIn, torch::kReLU);
}

int64_t ResUNet3DImpl::size_multiple() const { return int64_t(1) << (options_.channels.size() - 1); }

torch::Tensor ResUNet3DImpl::forward(torch::Tensor x) {
  require(x.dim() == 5, "Invalid argument 'input': expected a 5D tensor [B, C, D, H, W]", "ERR_SHAPE_MISMATCH");
  require(x.size(1) == options_.in_channels, "Invalid argument 'input': channel count does not match the model", "ERR_SHAPE_MISMATCH");
  const int64_t m = size_multiple();
  const int64_t d = x.size(2), h = x.size(3), w = x.size(4);
  const int64_t pd = (m - d % m) % m, ph = (m - h % m) % m, pw = (m - w % m) % m;
  // Pad at the far end only, so cropping back is a plain narrow from 0.
  if (pd || ph || pw) x = F::pad(x, F::PadFuncOptions({0, pw, 0, ph, 0, pd}));

  const size_t levels = encoders_.size();
  std::vector<torch::Tensor> skips(levels);
  for (size_t l = 0; l < levels; ++l) {
    if (l > 0) x = torch::max_pool3d(x, {2, 2, 2});
    x = encoders_[l]->forward(x);
    if (l + 1 < levels) skips[l] = x;
  }
  for (size_t l = levels - 1; l-- > 0;) {
    x = torch::upsample_trilinear3d(x, {skips[l].size(2), skips[l].size(3), skips[l].size(4)}, /*align_corners=*/true);
    x = torch::cat({skips[l], x}, 1);
    skips[l] = torch::Tensor();
    x = decoders_[l]->forward(x);
  }
  x = head->forward(x);
  if (pd || ph || pw) x = x.narrow(2, 0, d).narrow(3, 0, h).narrow(4, 0, w).contiguous();
  return x;
}

int64_t expected_parameter_count(const ResUNetOptions& o) {
  auto conv = [](int64_t in, int64_t out, int64_t k) { return in * out * k * k * k + out; };
  auto norm = [](int64_t c) { return 2 * c; };
  auto block = [&](int64_t in, int64_t out) {
    int64_t n = conv(in, out, 3) + norm(out) + conv(out, out, 3) + norm(out);
    if (o.block == Block::Residual) n += conv(in, out, 1) + norm(out);
    return n;
  };
  const auto& ch = o.channels;
  int64_t total = 0;
  for (size_t l = 0; l < ch.size(); ++l) total += block(l == 0 ? o.in_channels : ch[l - 1], ch[l]);
  for (size_t l = 0; l + 1 < ch.size(); ++l) total += block(ch[l] + ch[l + 1], ch[l]);
  return total + conv(ch[0], o.out_channels, 1);
}

}  // namespace liverseg
