// A segmentation model as one object: the network, its optimizer, its device and how it runs
// (mixed precision on CUDA). Calls on one model are serialised by its mutex; different models
// may run in parallel.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <mutex>
#include <string>

#include "distributed/distributed.h"
#include "inferers/sliding_window.h"
#include "nets/resunet3d.h"
#include "optim/optimizer.h"

namespace liverseg {

// Mixed precision: Auto (bf16 autocast on CUDA, off on the CPU), Off, BF16 or FP16 autocast
// (the last two on CUDA only; the CPU always runs in float32).
enum class Precision { Auto, Off, BF16, FP16 };

struct ModelOptions {
  ResUNetOptions net;
  OptimizerOptions optimizer;
  std::string device = "auto";  // "auto", "cpu" or "cuda[:N]", resolved by resolve_device
  Precision precision = Precision::Auto;
  uint64_t seed = 0;
  bool channels_last = false;
  // MONAI's include_background for the Dice loss of train_step and the Dice metric of evaluate:
  // false drops channel 0 when the model has several output channels (ignored with one).
  bool include_background = true;
};

// Intensity window applied on the device after upload: y = clamp((x - a_min) / (a_max - a_min) * (b_max - b_min) + b_min).
struct IntensityWindow {
  bool enabled = false;
  double a_min = -300, a_max = 300, b_min = 0, b_max = 1;
  bool clip = true;
};

enum class OutputKind { Logits, Probabilities, Mask };

struct PredictOptions {
  SlidingWindowOptions window;
  bool sliding = true;  // false: one forward pass over the whole volume
  bool mirror = false;  // average over flips of the three spatial axes
  IntensityWindow intensity;
  OutputKind output = OutputKind::Mask;
};

class Model {
 public:
  explicit Model(const ModelOptions& options);

  const ModelOptions& options() const { return options_; }
  const torch::Device& device() const { return device_; }
  int64_t parameter_count() const;
  std::mutex& mutex() { return mutex_; }

  // images [B, C, D, H, W] (any device, float32): logits on the CPU.
  torch::Tensor forward(const torch::Tensor& images);
  // One optimisation step on a batch; returns the Dice loss before the step.
  double train_step(const torch::Tensor& images, const torch::Tensor& labels);
  // Per-case, per-channel Dice ([B, C], or [B, C - 1] without the background channel; NaN for an
  // empty ground truth) of one forward pass, binarised as MONAI's AsDiscrete(threshold=0.5).
  torch::Tensor evaluate(const torch::Tensor& images, const torch::Tensor& labels);
  // Whole-volume prediction of one volume [D, H, W] of any dtype (sliding windows or one pass).
  torch::Tensor predict_volume(const torch::Tensor& volume, const PredictOptions& options);

  double learning_rate() const { return optimizer_->lr(); }
  void set_learning_rate(double lr) { optimizer_->set_lr(lr); }

  NamedTensors weights() const;
  void load_weights(const NamedTensors& weights);
  // Data-parallel training: rank 0's weights are broadcast to every rank, and from then on each
  // train_step averages the gradients over the ranks (bucketed, overlapping backward).
  void attach_distributed(std::shared_ptr<ProcessGroupContext> group);
  bool distributed() const { return reducer_ != nullptr; }

  NamedTensors optimizer_state() const { return optimizer_->state(); }
  void load_optimizer_state(const NamedTensors& state) { optimizer_->load_state(state); }

 private:
  torch::Tensor run_net(const torch::Tensor& x);
  bool autocast_enabled() const;
  torch::ScalarType autocast_dtype() const;

  ModelOptions options_;
  torch::Device device_;
  ResUNet3D net_{nullptr};
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<GradientReducer> reducer_;
  std::mutex mutex_;
};

}  // namespace liverseg
