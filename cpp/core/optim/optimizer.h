// Optimizers whose whole state is a flat list of named tensors, so a checkpoint can save and
// restore it exactly (and the TypeScript scheduler can set the learning rate before each step).
#pragma once
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace liverseg {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

enum class OptimizerKind { Novograd, Adam };

// "novograd" or "adam": the name the JavaScript API uses.
const char* optimizer_name(OptimizerKind kind);

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::Novograd;
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.98;  // MONAI Novograd's default; Adam's usual 0.999 is set by the caller
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool grad_averaging = false;  // Novograd only
  bool amsgrad = false;
};

class Optimizer {
 public:
  Optimizer(NamedTensors params, OptimizerOptions options);
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void zero_grad();
  double lr() const { return options_.lr; }
  void set_lr(double lr);
  const OptimizerOptions& options() const { return options_; }
  int64_t step_count() const { return step_count_; }
  // Every buffer, named "<param>.<buffer>", plus "step".
  NamedTensors state() const;
  void load_state(const NamedTensors& state);

 protected:
  torch::Tensor& buffer(size_t param_index, const std::string& name, bool scalar);
  NamedTensors params_;
  OptimizerOptions options_;
  int64_t step_count_ = 0;
  std::map<std::string, torch::Tensor> state_;
};

// MONAI's Novograd: a per-tensor second moment (the squared gradient norm), no bias correction.
class Novograd : public Optimizer {
 public:
  using Optimizer::Optimizer;
  void step() override;
};

// PyTorch's Adam (L2 weight decay added to the gradient, bias-corrected moments).
class Adam : public Optimizer {
 public:
  using Optimizer::Optimizer;
  void step() override;
};

std::unique_ptr<Optimizer> make_optimizer(NamedTensors params, const OptimizerOptions& options);

}  // namespace liverseg
