#pragma once
#include <napi.h>

#include <memory>

#include "core/model.h"

namespace liverseg::addon {

// JS class `Model`, made by `createModel(config)` (which builds the network off the JS thread).
class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Value Create(const Napi::CallbackInfo& info);
  explicit ModelWrap(const Napi::CallbackInfo& info);

 private:
  std::shared_ptr<Model> model(Napi::Env env) const;
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value TrainStep(const Napi::CallbackInfo& info);
  Napi::Value Evaluate(const Napi::CallbackInfo& info);
  Napi::Value PredictVolume(const Napi::CallbackInfo& info);
  Napi::Value GetWeights(const Napi::CallbackInfo& info);
  Napi::Value SetWeights(const Napi::CallbackInfo& info);
  Napi::Value GetOptimizerState(const Napi::CallbackInfo& info);
  Napi::Value SetOptimizerState(const Napi::CallbackInfo& info);
  Napi::Value GetLearningRate(const Napi::CallbackInfo& info);
  Napi::Value SetLearningRate(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value AttachDistributed(const Napi::CallbackInfo& info);
  Napi::Value MemoryStats(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<Model> model_;
};

}  // namespace liverseg::addon
