#include "optimizer.h"

#include <cmath>

#include "../errors.h"

namespace liverseg {

namespace {
// Norms of half-precision gradients are kept in float32; double parameters keep double.
torch::ScalarType moment_dtype(const torch::Tensor& p) { return p.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32; }
}  // namespace

Optimizer::Optimizer(NamedTensors params, OptimizerOptions options) : params_(std::move(params)), options_(std::move(options)) {
  require(options_.lr >= 0 && std::isfinite(options_.lr), "Invalid argument 'lr': must be a finite number >= 0", "ERR_INVALID_CONFIG");
  require(options_.beta1 >= 0 && options_.beta1 < 1 && options_.beta2 >= 0 && options_.beta2 < 1, "Invalid argument 'betas': each must be in [0, 1)",
          "ERR_INVALID_CONFIG");
  require(options_.eps >= 0, "Invalid argument 'eps': must be >= 0", "ERR_INVALID_CONFIG");
  require(options_.weight_decay >= 0, "Invalid argument 'weightDecay': must be >= 0", "ERR_INVALID_CONFIG");
}

void Optimizer::zero_grad() {
  // Dropping the gradients (rather than zeroing them) lets backward write fresh ones instead of
  // accumulating into zeros: one kernel and one memset fewer per parameter, as PyTorch 2 does.
  for (auto& [name, p] : params_) p.mutable_grad() = torch::Tensor();
}

void Optimizer::set_lr(double lr) {
  require(lr >= 0 && std::isfinite(lr), "Invalid argument 'lr': must be a finite number >= 0");
  options_.lr = lr;
}

torch::Tensor& Optimizer::buffer(size_t i, const std::string& name, bool scalar) {
  const auto key = params_[i].first + "." + name;
  auto it = state_.find(key);
  if (it == state_.end()) {
    const auto& p = params_[i].second;
    auto t = scalar ? torch::zeros({}, p.options().dtype(moment_dtype(p))) : torch::zeros_like(p, torch::MemoryFormat::Preserve);
    it = state_.emplace(key, t).first;
  }
  return it->second;
}

NamedTensors Optimizer::state() const {
  NamedTensors out;
  out.emplace_back("step", torch::tensor(static_cast<double>(step_count_), torch::kFloat64));
  for (const auto& [k, v] : state_) out.emplace_back(k, v.detach().cpu().clone());
  return out;
}

void Optimizer::load_state(const NamedTensors& state) {
  std::map<std::string, torch::Tensor> next;
  int64_t step = -1;
  for (const auto& [k, v] : state) {
    if (k == "step") {
      step = static_cast<int64_t>(v.item<double>());
      continue;
    }
    const auto dot = k.rfind('.');
    bool known = false;
    for (const auto& [name, p] : params_) {
      if (dot != std::string::npos && k.compare(0, dot, name) == 0 && dot == name.size()) {
        const bool scalar = v.dim() == 0;
        require(scalar || v.sizes() == p.sizes(), "Optimizer state '" + k + "' has the wrong shape for its parameter", "ERR_MODEL_MISMATCH");
        next[k] = v.to(p.device(), scalar ? moment_dtype(p) : p.scalar_type()).clone();
        known = true;
        break;
      }
    }
    require(known, "Optimizer state '" + k + "' names no parameter of this model", "ERR_MODEL_MISMATCH");
  }
  require(step >= 0, "Optimizer state has no 'step' entry", "ERR_MODEL_MISMATCH");
  state_ = std::move(next);
  step_count_ = step;
}

void Novograd::step() {
  torch::NoGradGuard no_grad;
  ++step_count_;
  const double b1 = options_.beta1, b2 = options_.beta2;
  for (size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i].second;
    if (!p.grad().defined()) continue;
    torch::Tensor g = p.grad();
    torch::Tensor& m = buffer(i, "exp_avg", false);
    torch::Tensor& v = buffer(i, "exp_avg_sq", true);
    torch::Tensor norm = g.to(v.scalar_type()).pow(2).sum();
    // MONAI's first-step rule is "second moment still zero": take the norm as it is. A where()
    // instead of a branch keeps the GPU from synchronising on every parameter.
    v.copy_(torch::where(v.eq(0), norm, v * b2 + norm * (1.0 - b2)));
    torch::Tensor denom;
    if (options_.amsgrad) {
      torch::Tensor& vmax = buffer(i, "max_exp_avg_sq", true);
      torch::maximum_out(vmax, vmax, v);
      denom = vmax.sqrt().add_(options_.eps);
    } else {
      denom = v.sqrt().add_(options_.eps);
    }
    torch::Tensor d = g / denom;
    if (options_.weight_decay != 0) d.add_(p, options_.weight_decay);
    if (options_.grad_averaging) d.mul_(1.0 - b1);
    m.mul_(b1).add_(d);
    p.add_(m, -options_.lr);
  }
}

void Adam::step() {
  torch::NoGradGuard no_grad;
  ++step_count_;
  const double b1 = options_.beta1, b2 = options_.beta2;
  const double bc1 = 1.0 - std::pow(b1, static_cast<double>(step_count_));
  const double bc2 = 1.0 - std::pow(b2, static_cast<double>(step_count_));
  for (size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i].second;
    if (!p.grad().defined()) continue;
    torch::Tensor g = p.grad();
    if (options_.weight_decay != 0) g = g.add(p, options_.weight_decay);
    torch::Tensor& m = buffer(i, "exp_avg", false);
    torch::Tensor& v = buffer(i, "exp_avg_sq", false);
    m.mul_(b1).add_(g, 1.0 - b1);
    v.mul_(b2).addcmul_(g, g, 1.0 - b2);
    torch::Tensor second = v;
    if (options_.amsgrad) {
      torch::Tensor& vmax = buffer(i, "max_exp_avg_sq", false);
      torch::maximum_out(vmax, vmax, v);
      second = vmax;
    }
    torch::Tensor denom = (second.sqrt() / std::sqrt(bc2)).add_(options_.eps);
    p.addcdiv_(m, denom, -options_.lr / bc1);
  }
}

const char* optimizer_name(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::Novograd: return "novograd";
    case OptimizerKind::Adam: return "adam";
  }
  return "unknown";
}

std::unique_ptr<Optimizer> make_optimizer(NamedTensors params, const OptimizerOptions& options) {
  switch (options.kind) {
    case OptimizerKind::Novograd: return std::make_unique<Novograd>(std::move(params), options);
    case OptimizerKind::Adam: return std::make_unique<Adam>(std::move(params), options);
  }
  throw CoreError("ERR_INVALID_CONFIG", "Invalid argument 'optimizer': unknown optimizer kind");
}

}  // namespace liverseg
