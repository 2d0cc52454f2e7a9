#include "model_wrap.h"

#include "core/errors.h"
#include "core/runtime.h"
#include "distributed_wrap.h"
#include "errors.h"
#include "options.h"
#include "promise_worker.h"
#include "tensors.h"

namespace liverseg::addon {

Napi::Function ModelWrap::Define(Napi::Env env) {
  Napi::Function fn = DefineClass(env, "Model",
                                  {
                                      InstanceMethod("forward", &ModelWrap::Forward),
                                      InstanceMethod("trainStep", &ModelWrap::TrainStep),
                                      InstanceMethod("evaluate", &ModelWrap::Evaluate),
                                      InstanceMethod("predictVolume", &ModelWrap::PredictVolume),
                                      InstanceMethod("getWeights", &ModelWrap::GetWeights),
                                      InstanceMethod("setWeights", &ModelWrap::SetWeights),
                                      InstanceMethod("getOptimizerState", &ModelWrap::GetOptimizerState),
                                      InstanceMethod("setOptimizerState", &ModelWrap::SetOptimizerState),
                                      InstanceMethod("getLearningRate", &ModelWrap::GetLearningRate),
                                      InstanceMethod("setLearningRate", &ModelWrap::SetLearningRate),
                                      InstanceMethod("info", &ModelWrap::Info),
                                      InstanceMethod("attachDistributed", &ModelWrap::AttachDistributed),
                                      InstanceMethod("memoryStats", &ModelWrap::MemoryStats),
                                      InstanceMethod("dispose", &ModelWrap::Dispose),
                                  });
  // One constructor per environment: jest test files and worker threads each load the addon
  // into an environment of their own, and a reference from one must never be used in another.
  env.SetInstanceData<Napi::FunctionReference>(new Napi::FunctionReference(Napi::Persistent(fn)));
  return fn;
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) throw_coded(info.Env(), "ERR_INVALID_ARG", "Model cannot be constructed directly; use createModel(config)");
  model_ = *info[0].As<Napi::External<std::shared_ptr<Model>>>().Data();
}

Napi::Value ModelWrap::Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ModelOptions options = read_model_options(read_object(info[0], "config"));
  auto result = std::make_shared<std::shared_ptr<Model>>();
  return PromiseWorker::Start(
      env, [options, result] { *result = std::make_shared<Model>(options); },
      [result](Napi::Env env) -> Napi::Value {
        auto ext = Napi::External<std::shared_ptr<Model>>::New(env, result.get());
        return env.GetInstanceData<Napi::FunctionReference>()->New({ext});
      });
}

std::shared_ptr<Model> ModelWrap::model(Napi::Env env) const {
  if (!model_) throw_coded(env, "ERR_INVALID_ARG", "This model was disposed");
  return model_;
}

Napi::Value ModelWrap::Forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  TensorArg in = read_tensor(info[0], "images");
  auto out = std::make_shared<torch::Tensor>();
  torch::Tensor x = in.tensor;
  return PromiseWorker::Start(
      env,
      [m, x, out] {
        std::lock_guard<std::mutex> lock(m->mutex());
        *out = m->forward(x);
      },
      [out](Napi::Env env) -> Napi::Value { return tensor_with_shape(env, *out); }, {in.holder});
}

Napi::Value ModelWrap::TrainStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  TensorArg images = read_tensor(info[0], "images");
  TensorArg labels = read_tensor(info[1], "labels");
  auto loss = std::make_shared<double>(0);
  torch::Tensor x = images.tensor, y = labels.tensor;
  return PromiseWorker::Start(
      env,
      [m, x, y, loss] {
        std::lock_guard<std::mutex> lock(m->mutex());
        *loss = m->train_step(x, y);
      },
      [loss](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, *loss); }, {images.holder, labels.holder});
}

Napi::Value ModelWrap::Evaluate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  TensorArg images = read_tensor(info[0], "images");
  TensorArg labels = read_tensor(info[1], "labels");
  auto out = std::make_shared<torch::Tensor>();
  torch::Tensor x = images.tensor, y = labels.tensor;
  return PromiseWorker::Start(
      env,
      [m, x, y, out] {
        std::lock_guard<std::mutex> lock(m->mutex());
        *out = m->evaluate(x, y);
      },
      [out](Napi::Env env) -> Napi::Value { return tensor_with_shape(env, *out); }, {images.holder, labels.holder});
}

Napi::Value ModelWrap::PredictVolume(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  TensorArg volume = read_tensor(info[0], "volume");
  PredictOptions options = read_predict_options(read_object(info[1], "options"));
  std::vector<Napi::Value> keep{volume.holder};
  // An Int32Array(1) the caller sets to non-zero to cancel between batches of windows. The work
  // thread reads it while the call runs, so it must live in a SharedArrayBuffer: an ArrayBuffer
  // could be detached (and its memory freed) under that read.
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    const char* expected = "expected an Int32Array of length 1 over a SharedArrayBuffer (new Int32Array(new SharedArrayBuffer(4)))";
    if (!info[2].IsTypedArray()) throw_invalid_arg(env, "cancel", expected);
    TypedArrayInfo flag = typed_array_info(info[2].As<Napi::TypedArray>());
    if (flag.type != napi_int32_array || flag.length < 1 || !flag.shared) throw_invalid_arg(env, "cancel", expected);
    options.window.cancel = static_cast<const int32_t*>(flag.data);
    keep.push_back(info[2]);
  }
  auto out = std::make_shared<torch::Tensor>();
  torch::Tensor x = volume.tensor;
  return PromiseWorker::Start(
      env,
      [m, x, options, out] {
        std::lock_guard<std::mutex> lock(m->mutex());
        if (options.window.cancel && *options.window.cancel != 0) throw Cancelled();
        *out = m->predict_volume(x, options);
      },
      [out](Napi::Env env) -> Napi::Value { return tensor_with_shape(env, *out); }, keep);
}

namespace {

// Weights and optimizer state cross the boundary the same way: named tensors out, named tensors in.
Napi::Value get_named(Napi::Env env, std::shared_ptr<Model> m, NamedTensors (Model::*get)() const) {
  auto out = std::make_shared<NamedTensors>();
  return PromiseWorker::Start(
      env,
      [m, out, get] {
        std::lock_guard<std::mutex> lock(m->mutex());
        *out = ((*m).*get)();
      },
      [out](Napi::Env env) -> Napi::Value { return named_tensors_to_js(env, *out); });
}

Napi::Value set_named(Napi::Env env, std::shared_ptr<Model> m, const Napi::Value& value, void (Model::*set)(const NamedTensors&)) {
  std::vector<Napi::Value> holders;
  NamedTensors tensors = read_named_tensors(value, holders);
  return PromiseWorker::Start(
      env,
      [m, tensors, set] {
        std::lock_guard<std::mutex> lock(m->mutex());
        ((*m).*set)(tensors);
      },
      [](Napi::Env env) -> Napi::Value { return env.Undefined(); }, holders);
}

}  // namespace

Napi::Value ModelWrap::GetWeights(const Napi::CallbackInfo& info) { return get_named(info.Env(), model(info.Env()), &Model::weights); }

Napi::Value ModelWrap::SetWeights(const Napi::CallbackInfo& info) { return set_named(info.Env(), model(info.Env()), info[0], &Model::load_weights); }

Napi::Value ModelWrap::GetOptimizerState(const Napi::CallbackInfo& info) { return get_named(info.Env(), model(info.Env()), &Model::optimizer_state); }

Napi::Value ModelWrap::SetOptimizerState(const Napi::CallbackInfo& info) {
  return set_named(info.Env(), model(info.Env()), info[0], &Model::load_optimizer_state);
}

Napi::Value ModelWrap::GetLearningRate(const Napi::CallbackInfo& info) {
  auto m = model(info.Env());
  std::lock_guard<std::mutex> lock(m->mutex());
  return Napi::Number::New(info.Env(), m->learning_rate());
}

Napi::Value ModelWrap::SetLearningRate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  if (!info[0].IsNumber()) throw_invalid_arg(env, "lr", "expected a number");
  const double lr = info[0].As<Napi::Number>().DoubleValue();
  // Learning-rate changes are queued behind running work by the TypeScript layer; the lock here
  // only guards against misuse of the raw binding.
  std::lock_guard<std::mutex> lock(m->mutex());
  guarded(env, [&] { m->set_learning_rate(lr); });
  return env.Undefined();
}

Napi::Value ModelWrap::AttachDistributed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  auto ctx = read_distributed(info[0], "distributed");
  return PromiseWorker::Start(
      env,
      [m, ctx] {
        std::lock_guard<std::mutex> lock(m->mutex());
        m->attach_distributed(ctx);
      },
      [](Napi::Env env) -> Napi::Value { return env.Undefined(); });
}

Napi::Value ModelWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  Napi::Object o = Napi::Object::New(env);
  o.Set("device", Napi::String::New(env, m->device().str()));
  o.Set("parameterCount", Napi::Number::New(env, static_cast<double>(m->parameter_count())));
  o.Set("expectedParameterCount", Napi::Number::New(env, static_cast<double>(expected_parameter_count(m->options().net))));
  o.Set("sizeMultiple", Napi::Number::New(env, static_cast<double>(int64_t(1) << (m->options().net.channels.size() - 1))));
  o.Set("optimizer", Napi::String::New(env, optimizer_name(m->options().optimizer.kind)));
  return o;
}

Napi::Value ModelWrap::MemoryStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  const bool reset = info.Length() > 0 && info[0].IsBoolean() && info[0].As<Napi::Boolean>().Value();
  DeviceMemory mem = device_memory(m->device());
  if (reset) reset_peak_memory(m->device());
  Napi::Object o = Napi::Object::New(env);
  o.Set("allocated", Napi::Number::New(env, static_cast<double>(mem.allocated)));
  o.Set("peakAllocated", Napi::Number::New(env, static_cast<double>(mem.peak_allocated)));
  o.Set("reserved", Napi::Number::New(env, static_cast<double>(mem.reserved)));
  return o;
}

Napi::Value ModelWrap::Dispose(const Napi::CallbackInfo& info) {
  // Work in flight holds its own reference; the model is freed when the last one ends.
  model_.reset();
  release_cached_memory();
  return info.Env().Undefined();
}

}  // namespace liverseg::addon
