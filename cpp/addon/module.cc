// Module init: registers the classes and functions, nothing else.
#include <napi.h>

#include <mutex>

#include "core/runtime.h"
#include "model_wrap.h"
#include "ops_wrap.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  static std::once_flag threads_once;
  std::call_once(threads_once, liverseg::init_threads);
  exports.Set("Model", liverseg::addon::ModelWrap::Define(env));
  exports.Set("createModel", Napi::Function::New(env, liverseg::addon::ModelWrap::Create, "createModel"));
  liverseg::addon::RegisterOps(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(liverseg, Init)
