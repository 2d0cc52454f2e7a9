#include "ops_wrap.h"

#include "core/errors.h"
#include "core/inferers/sliding_window.h"
#include "core/losses/dice_loss.h"
#include "core/metrics/dice_metric.h"
#include "core/ops/components.h"
#include "core/ops/resize.h"
#include "core/optim/optimizer.h"
#include "core/runtime.h"
#include "errors.h"
#include "options.h"
#include "promise_worker.h"
#include "tensors.h"

namespace liverseg::addon {

namespace {

Napi::Value Backend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BackendInfo b = guarded(env, [] { return backend_info(); });
  Napi::Object o = Napi::Object::New(env);
  o.Set("torchVersion", Napi::String::New(env, b.torch_version));
  o.Set("cudaAvailable", Napi::Boolean::New(env, b.cuda_available));
  o.Set("cudaDeviceCount", Napi::Number::New(env, b.cuda_device_count));
  o.Set("builtWithCuda", Napi::Boolean::New(env, b.built_with_cuda));
  o.Set("mkldnn", Napi::Boolean::New(env, b.mkldnn));
  o.Set("threads", Napi::Number::New(env, b.num_threads));
  o.Set("defaultDevice", Napi::String::New(env, b.default_device));
  return o;
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw_invalid_arg(env, "threads", "expected a number");
  guarded(env, [&] { set_num_threads(info[0].As<Napi::Number>().Int32Value()); });
  return env.Undefined();
}

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw_invalid_arg(env, "seed", "expected a number");
  guarded(env, [&] { manual_seed(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value())); });
  return env.Undefined();
}

// resize(volume {data, shape [D,H,W]}, size [D,H,W], mode 'area' | 'nearest' | 'linear')
Napi::Value Resize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TensorArg v = read_tensor(info[0], "volume");
  auto size = read_size3(info[1], "size");
  const std::string mode = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : std::string();
  using ResizeFn = torch::Tensor (*)(const torch::Tensor&, const std::array<int64_t, 3>&);
  const ResizeFn resize = mode == "area" ? &resize_area : mode == "nearest" ? &resize_nearest : mode == "linear" ? &resize_linear : nullptr;
  if (!resize) throw_invalid_arg(env, "mode", "expected 'area', 'nearest' or 'linear'");
  auto out = std::make_shared<torch::Tensor>();
  torch::Tensor x = v.tensor;
  return PromiseWorker::Start(
      env, [x, size, resize, out] { *out = resize(x, size); }, [out](Napi::Env env) -> Napi::Value { return tensor_with_shape(env, *out); }, {v.holder});
}

TensorArg read_mask(const Napi::CallbackInfo& info) {
  TensorArg m = read_tensor(info[0], "mask");
  if (m.tensor.scalar_type() != torch::kUInt8 || m.tensor.dim() != 3) throw_invalid_arg(info.Env(), "mask", "expected a 3D Uint8Array volume");
  return m;
}

// Required, like every option: TypeScript owns the default (26).
int read_connectivity(const Napi::CallbackInfo& info) {
  if (!info[1].IsNumber()) throw_invalid_arg(info.Env(), "connectivity", "expected 6, 18 or 26");
  return info[1].As<Napi::Number>().Int32Value();
}

// largestComponent(mask {Uint8Array, shape [D,H,W]}, connectivity): a new mask in which each
// non-zero value keeps its own largest component (MONAI's KeepLargestConnectedComponent), plus counts.
Napi::Value LargestComponent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TensorArg m = read_mask(info);
  const int connectivity = read_connectivity(info);
  auto out = std::make_shared<torch::Tensor>();
  auto stats = std::make_shared<ComponentStats>();
  torch::Tensor x = m.tensor;
  // A mask copied from an ArrayBuffer is ours already: work on it in place.
  const bool owned = m.holder.IsEmpty();
  return PromiseWorker::Start(
      env,
      [x, owned, connectivity, out, stats] {
        *out = owned ? x : x.clone();
        *stats = keep_largest_component(out->data_ptr<uint8_t>(), x.size(2), x.size(1), x.size(0), connectivity);
      },
      [out, stats](Napi::Env env) -> Napi::Value {
        Napi::Object o = tensor_with_shape(env, *out);
        o.Set("components", Napi::Number::New(env, static_cast<double>(stats->components)));
        o.Set("keptVoxels", Napi::Number::New(env, static_cast<double>(stats->kept_voxels)));
        o.Set("totalVoxels", Napi::Number::New(env, static_cast<double>(stats->total_voxels)));
        return o;
      },
      {m.holder});
}

Napi::Value LabelComponents(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TensorArg m = read_mask(info);
  const int connectivity = read_connectivity(info);
  auto out = std::make_shared<torch::Tensor>();
  auto sizes = std::make_shared<std::vector<int64_t>>();
  torch::Tensor x = m.tensor;
  return PromiseWorker::Start(
      env,
      [x, connectivity, out, sizes] {
        *out = torch::empty(x.sizes(), torch::kInt32);
        *sizes = label_components(x.data_ptr<uint8_t>(), out->data_ptr<int32_t>(), x.size(2), x.size(1), x.size(0), connectivity);
      },
      [out, sizes](Napi::Env env) -> Napi::Value {
        Napi::Object o = tensor_with_shape(env, *out);
        Napi::Array s = Napi::Array::New(env, sizes->size());
        for (size_t i = 0; i < sizes->size(); ++i) s.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>((*sizes)[i])));
        o.Set("sizes", s);
        return o;
      },
      {m.holder});
}

// Test hooks (exported underscore-prefixed, so their math can be checked from JavaScript):
// _diceLoss(logits, target, includeBackground) -> number;
// _diceMetric(logits, target, includeBackground) -> {data: Float64Array [B, C or C - 1]}
bool read_include_background(const Napi::CallbackInfo& info, size_t index) {
  if (!info[index].IsBoolean()) throw_invalid_arg(info.Env(), "includeBackground", "is required (expected a boolean)");
  return info[index].As<Napi::Boolean>().Value();
}

Napi::Value DiceLoss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TensorArg l = read_tensor(info[0], "logits");
  TensorArg t = read_tensor(info[1], "target");
  const bool include_background = read_include_background(info, 2);
  auto out = std::make_shared<double>(0);
  torch::Tensor a = l.tensor, b = t.tensor;
  return PromiseWorker::Start(
      env, [a, b, include_background, out] { *out = dice_loss(a.to(torch::kFloat64), b, include_background).item<double>(); },
      [out](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, *out); }, {l.holder, t.holder});
}

Napi::Value DiceMetric(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TensorArg l = read_tensor(info[0], "logits");
  TensorArg t = read_tensor(info[1], "target");
  const bool include_background = read_include_background(info, 2);
  auto out = std::make_shared<torch::Tensor>();
  torch::Tensor a = l.tensor, b = t.tensor;
  return PromiseWorker::Start(
      env, [a, b, include_background, out] { *out = dice_metric(a, b, include_background); },
      [out](Napi::Env env) -> Napi::Value { return tensor_with_shape(env, *out); }, {l.holder, t.holder});
}

// Test hook _importanceMap(roi [D, H, W], sigmaScale) -> {data: Float32Array, shape}: the
// sliding window's Gaussian weights (MONAI's compute_importance_map), computed synchronously.
Napi::Value ImportanceMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto roi = read_size3(info[0], "roi");
  if (!info[1].IsNumber()) throw_invalid_arg(env, "sigmaScale", "expected a number");
  const double sigma_scale = info[1].As<Napi::Number>().DoubleValue();
  torch::Tensor w = guarded(env, [&] {
    for (auto r : roi) require(r <= 1024, "Invalid argument 'roi': sizes up to 1024");
    return importance_map(roi, BlendMode::Gaussian, sigma_scale, torch::TensorOptions());
  });
  return tensor_with_shape(env, w);
}

// Test hook _isZeroCopy(typedArray) -> boolean: whether the addon reads this array in place
// (over a SharedArrayBuffer) instead of copying it when a call starts (over an ArrayBuffer).
Napi::Value IsZeroCopy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray()) throw_invalid_arg(env, "array", "expected a typed array");
  return Napi::Boolean::New(env, typed_array_info(info[0].As<Napi::TypedArray>()).shared);
}

// Test hook _optimizerSteps(config, params, grads[][], lrs[]): runs the optimizer on hand-made
// tensors, one step per entry of grads, and returns { params, state }. config is a full optimizer
// config, as createModel's `optimizer`.
Napi::Value OptimizerSteps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[2].IsArray() || !info[3].IsArray()) throw_coded(env, "ERR_INVALID_ARG", "Invalid argument: expected (config, params, grads[][], lrs[])");
  OptimizerOptions options = read_optimizer_options(info[0], "config");
  std::vector<Napi::Value> holders;
  NamedTensors params = read_named_tensors(info[1], holders);
  std::vector<NamedTensors> grads;
  Napi::Array ga = info[2].As<Napi::Array>();
  for (uint32_t i = 0; i < ga.Length(); ++i) grads.push_back(read_named_tensors(ga.Get(i), holders));
  std::vector<double> lrs;
  Napi::Array la = info[3].As<Napi::Array>();
  for (uint32_t i = 0; i < la.Length(); ++i) {
    if (!la.Get(i).IsNumber()) throw_invalid_arg(env, "lrs", "expected an array of numbers");
    lrs.push_back(la.Get(i).As<Napi::Number>().DoubleValue());
  }
  if (lrs.size() != grads.size()) throw_invalid_arg(env, "lrs", "one learning rate per step");
  auto out_params = std::make_shared<NamedTensors>();
  auto out_state = std::make_shared<NamedTensors>();
  return PromiseWorker::Start(
      env,
      [options, params, grads, lrs, out_params, out_state] {
        NamedTensors owned;
        for (const auto& [n, t] : params) owned.emplace_back(n, t.clone().to(torch::kFloat64));
        auto opt = make_optimizer(owned, options);
        for (size_t s = 0; s < grads.size(); ++s) {
          require(grads[s].size() == owned.size(), "each step needs one gradient per parameter");
          for (size_t i = 0; i < owned.size(); ++i) owned[i].second.mutable_grad() = grads[s][i].second.clone().to(torch::kFloat64);
          opt->set_lr(lrs[s]);
          opt->step();
        }
        *out_params = owned;
        *out_state = opt->state();
      },
      [out_params, out_state](Napi::Env env) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("params", named_tensors_to_js(env, *out_params));
        o.Set("state", named_tensors_to_js(env, *out_state));
        return o;
      },
      holders);
}

}  // namespace

void RegisterOps(Napi::Env env, Napi::Object exports) {
  exports.Set("backend", Napi::Function::New(env, Backend, "backend"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("manualSeed", Napi::Function::New(env, ManualSeed, "manualSeed"));
  exports.Set("resize", Napi::Function::New(env, Resize, "resize"));
  exports.Set("largestComponent", Napi::Function::New(env, LargestComponent, "largestComponent"));
  exports.Set("labelComponents", Napi::Function::New(env, LabelComponents, "labelComponents"));
  // Test hooks, not part of the public binding.
  exports.Set("_diceLoss", Napi::Function::New(env, DiceLoss, "_diceLoss"));
  exports.Set("_diceMetric", Napi::Function::New(env, DiceMetric, "_diceMetric"));
  exports.Set("_optimizerSteps", Napi::Function::New(env, OptimizerSteps, "_optimizerSteps"));
  exports.Set("_importanceMap", Napi::Function::New(env, ImportanceMap, "_importanceMap"));
  exports.Set("_isZeroCopy", Napi::Function::New(env, IsZeroCopy, "_isZeroCopy"));
}

}  // namespace liverseg::addon
