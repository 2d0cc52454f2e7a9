// Runs a piece of work on a libuv thread and settles a Promise exactly once on the JS thread.
// The work function must not touch N-API; it reads plain structs and writes its result into
// state it shares with `settle`, which builds the JS value afterwards.
#pragma once
#include <napi.h>

#include <functional>
#include <vector>

#include "errors.h"

namespace liverseg::addon {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;
  using Settle = std::function<Napi::Value(Napi::Env)>;

  // `keep` holds JS values (input typed arrays) alive until the promise settles.
  static Napi::Promise Start(Napi::Env env, Work work, Settle settle, const std::vector<Napi::Value>& keep = {}) {
    auto* worker = new PromiseWorker(env, std::move(work), std::move(settle), keep);
    Napi::Promise promise = worker->deferred_.Promise();
    worker->Queue();
    return promise;
  }

 protected:
  void Execute() override {
    try {
      work_();
    } catch (...) {
      error_ = capture_current_exception();
      SetError(error_.message);
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    try {
      deferred_.Resolve(settle_(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (...) {
      CapturedError e = capture_current_exception();
      deferred_.Reject(coded_error(env, e.code, e.message).Value());
    }
  }

  void OnError(const Napi::Error&) override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    deferred_.Reject(coded_error(env, error_.code, error_.message).Value());
  }

 private:
  PromiseWorker(Napi::Env env, Work work, Settle settle, const std::vector<Napi::Value>& keep)
      : Napi::AsyncWorker(env, "liverseg"), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)), settle_(std::move(settle)) {
    for (const auto& v : keep) {
      if (v.IsObject()) keep_.push_back(Napi::Persistent(v.As<Napi::Object>()));
    }
  }

  Napi::Promise::Deferred deferred_;
  Work work_;
  Settle settle_;
  std::vector<Napi::ObjectReference> keep_;
  CapturedError error_;
};

}  // namespace liverseg::addon
