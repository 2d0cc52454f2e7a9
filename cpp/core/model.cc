#include "model.h"

#include "amp/autocast.h"
#include "errors.h"
#include "losses/dice_loss.h"
#include "metrics/dice_metric.h"
#include "runtime.h"

namespace liverseg {

Model::Model(const ModelOptions& options) : options_(options), device_(resolve_device(options.device)) {
  // The seed fixes the initial weights, so a config plus a seed is a reproducible model.
  torch::manual_seed(options.seed);
  net_ = ResUNet3D(options.net);
  net_->to(device_);
  if (options.channels_last) {
    torch::NoGradGuard no_grad;
    for (auto& p : net_->parameters()) {
      if (p.dim() == 5) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast3d));
    }
  }
  NamedTensors params;
  for (const auto& item : net_->named_parameters()) params.emplace_back(item.key(), item.value());
  optimizer_ = make_optimizer(std::move(params), options.optimizer);
  if (device_.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);
}

int64_t Model::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : net_->parameters()) n += p.numel();
  return n;
}

bool Model::autocast_enabled() const {
  if (!device_.is_cuda()) return false;
  return options_.precision != Precision::Off;
}

torch::ScalarType Model::autocast_dtype() const { return options_.precision == Precision::FP16 ? torch::kHalf : torch::kBFloat16; }

torch::Tensor Model::run_net(const torch::Tensor& x) {
  AutocastScope autocast(autocast_enabled(), autocast_dtype());
  torch::Tensor in = options_.channels_last ? x.contiguous(torch::MemoryFormat::ChannelsLast3d) : x;
  return net_->forward(in);
}

torch::Tensor Model::forward(const torch::Tensor& images) {
  c10::InferenceMode guard;
  net_->eval();
  torch::Tensor x = images.to(device_, torch::kFloat32);
  torch::Tensor y = run_net(x);
  return y.to(torch::kCPU, torch::kFloat32).contiguous();
}

double Model::train_step(const torch::Tensor& images, const torch::Tensor& labels) {
  require(images.dim() == 5 && labels.dim() == 5, "Invalid argument 'images': expected [B, C, D, H, W]", "ERR_SHAPE_MISMATCH");
  require(images.size(0) == labels.size(0) && images.sizes().slice(2) == labels.sizes().slice(2),
          "Invalid argument 'labels': batch and spatial shape must match the images", "ERR_SHAPE_MISMATCH");
  require(labels.size(1) == options_.net.out_channels, "Invalid argument 'labels': channel count must equal the model's outChannels", "ERR_SHAPE_MISMATCH");
  net_->train();
  torch::Tensor x = images.to(device_, torch::kFloat32);
  torch::Tensor g = labels.to(device_).gt(0).to(torch::kFloat32);
  optimizer_->zero_grad();
  torch::Tensor logits = run_net(x);
  x = torch::Tensor();
  torch::Tensor loss = dice_loss(logits, g, options_.include_background);
  logits = torch::Tensor();
  // bf16 keeps fp32's exponent range, so it needs no loss scaling; fp16 gets a fixed scale that
  // the step undoes, and a step whose gradients overflow is skipped.
  const bool fp16 = autocast_enabled() && autocast_dtype() == torch::kHalf;
  const double scale = fp16 ? 1024.0 : 1.0;
  if (reducer_) reducer_->prepare();
  (loss * scale).backward();
  if (reducer_) reducer_->finish();
  if (fp16) {
    bool finite = true;
    torch::NoGradGuard no_grad;
    for (auto& p : net_->parameters()) {
      if (!p.grad().defined()) continue;
      p.mutable_grad().div_(scale);
      finite = finite && torch::isfinite(p.grad()).all().item<bool>();
    }
    if (!finite) {
      optimizer_->zero_grad();
      return loss.item<double>();
    }
  }
  optimizer_->step();
  return loss.item<double>();
}

torch::Tensor Model::evaluate(const torch::Tensor& images, const torch::Tensor& labels) {
  torch::Tensor logits = forward(images);
  return dice_metric(logits, labels.to(torch::kCPU), options_.include_background);
}

torch::Tensor Model::predict_volume(const torch::Tensor& volume, const PredictOptions& o) {
  require(volume.dim() == 3, "Invalid argument 'volume': expected a 3D volume", "ERR_SHAPE_MISMATCH");
  c10::InferenceMode guard;
  net_->eval();
  // The raw volume goes to the device once, in its own dtype (int16 CT is half the bytes of float).
  torch::Tensor x = volume.to(device_).to(torch::kFloat32).unsqueeze(0).unsqueeze(0);
  if (o.intensity.enabled) {
    const auto& w = o.intensity;
    x.sub_(w.a_min).mul_((w.b_max - w.b_min) / (w.a_max - w.a_min)).add_(w.b_min);
    if (w.clip) x.clamp_(std::min(w.b_min, w.b_max), std::max(w.b_min, w.b_max));
  }
  Predictor predict = [this, &o](const torch::Tensor& batch) {
    if (!o.mirror) return run_net(batch);
    torch::Tensor sum = run_net(batch).to(torch::kFloat32);
    const std::vector<std::vector<int64_t>> flips{{2}, {3}, {4}, {2, 3}, {2, 4}, {3, 4}, {2, 3, 4}};
    for (const auto& dims : flips) sum.add_(run_net(batch.flip(dims)).to(torch::kFloat32).flip(dims));
    return sum.div_(static_cast<double>(flips.size() + 1));
  };
  torch::Tensor out;
  if (o.sliding) {
    out = sliding_window_inference(x, predict, o.window);
  } else {
    out = predict(x).to(torch::kFloat32);
  }
  x = torch::Tensor();
  out = out.squeeze(0);  // [O, D, H, W]
  switch (o.output) {
    case OutputKind::Mask: out = binarize_logits(out).to(torch::kUInt8); break;
    case OutputKind::Probabilities: out = torch::sigmoid(out); break;
    case OutputKind::Logits: break;
  }
  return out.to(torch::kCPU).contiguous();
}

void Model::attach_distributed(std::shared_ptr<ProcessGroupContext> group) {
  require(group != nullptr, "Invalid argument 'distributed': expected a distributed context");
  require(!device_.is_cuda(), "Distributed training: this build all-reduces over Gloo on the CPU; NCCL for CUDA models is not built in", "ERR_DISTRIBUTED");
  reducer_.reset();
  if (group->world_size() > 1) {
    std::vector<torch::Tensor> targets, state;
    for (const auto& p : net_->parameters()) targets.push_back(p.detach());
    for (const auto& b : net_->buffers()) targets.push_back(b.detach());
    for (const auto& t : targets) state.push_back(t.contiguous());
    torch::NoGradGuard no_grad;
    group->broadcast(state);
    for (size_t i = 0; i < targets.size(); ++i) {
      if (!state[i].is_same(targets[i])) targets[i].copy_(state[i]);
    }
  }
  reducer_ = std::make_unique<GradientReducer>(std::move(group), net_->parameters());
}

NamedTensors Model::weights() const {
  NamedTensors out;
  for (const auto& item : net_->named_parameters()) out.emplace_back(item.key(), item.value().detach().to(torch::kCPU).contiguous().clone());
  for (const auto& item : net_->named_buffers()) out.emplace_back(item.key(), item.value().detach().to(torch::kCPU).contiguous().clone());
  return out;
}

void Model::load_weights(const NamedTensors& weights) {
  torch::NoGradGuard no_grad;
  auto params = net_->named_parameters();
  auto buffers = net_->named_buffers();
  size_t matched = 0;
  for (const auto& [name, value] : weights) {
    torch::Tensor* target = params.find(name);
    if (!target) target = buffers.find(name);
    require(target != nullptr, "Weights: tensor '" + name + "' is not part of this model's architecture", "ERR_MODEL_MISMATCH");
    require(target->sizes() == value.sizes(),
            "Weights: tensor '" + name + "' has shape " + c10::str(value.sizes()) + " but the model expects " + c10::str(target->sizes()),
            "ERR_MODEL_MISMATCH");
    target->copy_(value);
    ++matched;
  }
  require(matched == params.size() + buffers.size(),
          "Weights: " + std::to_string(params.size() + buffers.size() - matched) + " tensors of the model are missing from the weights", "ERR_MODEL_MISMATCH");
}

}  // namespace liverseg
