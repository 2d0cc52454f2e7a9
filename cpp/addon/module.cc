// Module init: once per process, sets LibTorch's thread count and (on glibc) limits malloc to one
// arena; then, per environment, registers the Model class, createModel and the free functions.
#include <napi.h>

#include <cstdlib>
#include <mutex>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "core/runtime.h"
#include "distributed_wrap.h"
#include "model_wrap.h"
#include "ops_wrap.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  static std::once_flag threads_once;
  std::call_once(threads_once, [] {
    liverseg::init_threads();
#ifdef __GLIBC__
    // Native work runs on libuv's pool threads, and glibc gives each thread its own malloc arena
    // that keeps freed activations for itself: a 64^3 training step peaked at 1.67 GiB RSS with
    // per-thread arenas and at 1.10 GiB with one. MALLOC_ARENA_MAX, when set, still decides.
    if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 1);
#endif
  });
  exports.Set("Model", liverseg::addon::ModelWrap::Define(env));
  exports.Set("createModel", Napi::Function::New(env, liverseg::addon::ModelWrap::Create, "createModel"));
  liverseg::addon::RegisterOps(env, exports);
  liverseg::addon::RegisterDistributed(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(liverseg, Init)
