#include "ops_wrap.h"

#include "convert.h"
#include "core/errors.h"
#include "core/losses/dice_loss.h"
#include "core/metrics/dice_metric.h"
#include "core/ops/components.h"
#include "core/ops/resize.h"
#include "core/optim/optimizer.h"
#include "core/runtime.h"
#include "promise_worker.h"

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
  if (!info[0].IsNumber()) throw make_error(env, "ERR_INVALID_ARG", "Invalid argument 'threads': expected a number");
  guarded(env, [&] { set_num_threads(info[0].As<Napi::Number>().Int32Value()); });
  return env.Undefined();
}

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw make_error(env, "ERR_INVALID_ARG", "Invalid argument 'seed': expected a number");
  guarded(env, [&] { manual_seed(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value())); });
  return env.Undefined();
}

// resize(volume {data, shape [D,H,W]}, size [D,H,W], mode 'area' | 'nearest' | 'linear')
Napi::Value Resize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TensorArg v = read_tensor(info[0], "volume");
  auto size = read_size3(info[1], "size");
  if (!info[2].IsString()) throw make_error(env, "ERR_INVALID_ARG", "Invalid argument 'mode': expected 'area', 'nearest' or 'linear'");
  const std::string mode = info[2].As<Napi::String>().Utf8Value();
  if (mode != "area" && mode != "nearest" && mode != "linear") throw make_error(env, "ERR_INVALID_ARG", "Invalid argument 'mode': expected 'area', 'nearest' or 'linear'");
  auto out = std::make_shared<torch::Tensor>();
  torch::Tensor x = v.tensor;
  return PromiseWorker::Start(
      env,
      [x, size, mode, out] {
        if (mode == "area") *out = resize_area(x, size);
        else if (mode == "nearest") *out = resize_nearest(x, size);
        else *out = resize_linear(x, size);
      },
      [out](Napi::Env env) -> Napi::Value { return tensor_with_shape(env, *out); }, {v.holder});
}

TensorArg read_mask(const Napi::CallbackInfo& info) {
  TensorArg m = read_tensor(info[0], "mask");
  if (m.tensor.scalar_type() != torch::kUInt8 || m.tensor.dim() != 3) {
    throw make_error(info.Env(), "ERR_INVALID_ARG", "Invalid argument 'mask': expected a 3D Uint8Array volume");
  }
  return m;
}

int read_connectivity(const Napi::CallbackInfo& info) {
  return info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 26;
}

// largestComponent(mask {Uint8Array, shape [D,H,W]}, connectivity): a new mask, plus counts.
Napi::Value LargestComponent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TensorArg m = read_mask(info);
  const int connectivity = read_connectivity(info);
  auto out = std::make_shared<torch::Tensor>();
  auto stats = std::make_shared<ComponentStats>();
  torch::Tensor x = m.tensor;
  return PromiseWorker::Start(
      env,
      [x, connectivity, out, stats] {
        *out = x.clone();
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

// diceLoss(logits, target) -> number; diceMetric(logits, target) -> {data: Float64Array [B, C]}
Napi::Value DiceLoss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TensorArg l = read_tensor(info[0], "logits");
  TensorArg t = read_tensor(info[1], "target");
  auto out = std::make_shared<double>(0);
  torch::Tensor a = l.tensor, b = t.tensor;
  return PromiseWorker::Start(
      env, [a, b, out] { *out = dice_loss(a.to(torch::kFloat64), b).item<double>(); },
      [out](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, *out); }, {l.holder, t.holder});
}

Napi::Value DiceMetric(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TensorArg l = read_tensor(info[0], "logits");
  TensorArg t = read_tensor(info[1], "target");
  auto out = std::make_shared<torch::Tensor>();
  torch::Tensor a = l.tensor, b = t.tensor;
  return PromiseWorker::Start(
      env, [a, b, out] { *out = dice_metric(a, b); },
      [out](Napi::Env env) -> Napi::Value { return tensor_with_shape(env, *out); }, {l.holder, t.holder});
}

// optimizerSteps(config, params, grads[][], lrs[]): runs the optimizer on hand-made tensors,
// one step per entry of grads, and returns { params, state } — the optimizer's math exposed for tests.
Napi::Value OptimizerSteps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject() || !info[2].IsArray() || !info[3].IsArray()) {
    throw make_error(env, "ERR_INVALID_ARG", "Invalid argument: expected (config, params, grads[][], lrs[])");
  }
  Napi::Object wrapper = Napi::Object::New(env);
  wrapper.Set("optimizer", info[0]);
  OptimizerOptions options = read_model_options(wrapper).optimizer;
  std::vector<Napi::Value> holders;
  NamedTensors params = read_named_tensors(info[1], holders);
  std::vector<NamedTensors> grads;
  Napi::Array ga = info[2].As<Napi::Array>();
  for (uint32_t i = 0; i < ga.Length(); ++i) grads.push_back(read_named_tensors(ga.Get(i), holders));
  std::vector<double> lrs;
  Napi::Array la = info[3].As<Napi::Array>();
  for (uint32_t i = 0; i < la.Length(); ++i) lrs.push_back(la.Get(i).As<Napi::Number>().DoubleValue());
  if (lrs.size() != grads.size()) throw make_error(env, "ERR_INVALID_ARG", "Invalid argument 'lrs': one learning rate per step");
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
  exports.Set("diceLoss", Napi::Function::New(env, DiceLoss, "diceLoss"));
  exports.Set("diceMetric", Napi::Function::New(env, DiceMetric, "diceMetric"));
  exports.Set("optimizerSteps", Napi::Function::New(env, OptimizerSteps, "optimizerSteps"));
}

}  // namespace liverseg::addon
