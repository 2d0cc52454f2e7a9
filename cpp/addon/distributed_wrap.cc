#include "distributed_wrap.h"

#include "errors.h"
#include "options.h"
#include "promise_worker.h"
#include "tensors.h"

namespace liverseg::addon {

namespace {

// What the JS object's functions share; close() drops the context (work in flight keeps its own reference).
struct Holder {
  std::shared_ptr<ProcessGroupContext> context;
};

std::shared_ptr<ProcessGroupContext> live(Napi::Env env, const std::shared_ptr<Holder>& h) {
  if (!h->context) throw_coded(env, "ERR_DISTRIBUTED", "Distributed training: this context was closed");
  return h->context;
}

Napi::Object make_object(Napi::Env env, std::shared_ptr<ProcessGroupContext> context) {
  auto holder = std::make_shared<Holder>(Holder{std::move(context)});
  Napi::Object o = Napi::Object::New(env);
  o.Set("rank", Napi::Number::New(env, holder->context->rank()));
  o.Set("worldSize", Napi::Number::New(env, holder->context->world_size()));
  o.Set("_handle",
        Napi::External<std::shared_ptr<Holder>>::New(env, new std::shared_ptr<Holder>(holder), [](Napi::Env, std::shared_ptr<Holder>* p) { delete p; }));
  o.Set("allReduceSum", Napi::Function::New(
                            env,
                            [holder](const Napi::CallbackInfo& info) -> Napi::Value {
                              Napi::Env env = info.Env();
                              auto ctx = live(env, holder);
                              TensorArg in = read_tensor(info[0], "values");
                              // A copy the collective owns: summed in place, then handed back.
                              auto t = std::make_shared<torch::Tensor>(in.tensor.to(torch::kFloat64).contiguous().clone());
                              return PromiseWorker::Start(
                                  env, [ctx, t] { ctx->all_reduce_sum(*t); }, [t](Napi::Env env) -> Napi::Value { return tensor_with_shape(env, *t); },
                                  {in.holder});
                            },
                            "allReduceSum"));
  o.Set("barrier", Napi::Function::New(
                       env,
                       [holder](const Napi::CallbackInfo& info) -> Napi::Value {
                         auto ctx = live(info.Env(), holder);
                         return PromiseWorker::Start(
                             info.Env(), [ctx] { ctx->barrier(); }, [](Napi::Env env) -> Napi::Value { return env.Undefined(); });
                       },
                       "barrier"));
  o.Set("close", Napi::Function::New(
                     env,
                     [holder](const Napi::CallbackInfo& info) -> Napi::Value {
                       holder->context.reset();
                       return info.Env().Undefined();
                     },
                     "close"));
  return o;
}

Napi::Value CreateDistributed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = read_object(info[0], "options");
  DistributedOptions d;
  d.rank = static_cast<int>(read_number(o, "rank"));
  d.world_size = static_cast<int>(read_number(o, "worldSize"));
  d.master_host = read_string(o, "host");
  d.master_port = static_cast<int>(read_number(o, "port"));
  d.timeout = std::chrono::milliseconds(static_cast<int64_t>(read_number(o, "timeoutMs")));
  d.bucket_bytes = static_cast<int64_t>(read_number(o, "bucketBytes"));
  auto result = std::make_shared<std::shared_ptr<ProcessGroupContext>>();
  return PromiseWorker::Start(
      env, [d, result] { *result = std::make_shared<ProcessGroupContext>(d); }, [result](Napi::Env env) -> Napi::Value { return make_object(env, *result); });
}

}  // namespace

std::shared_ptr<ProcessGroupContext> read_distributed(const Napi::Value& value, const char* name) {
  Napi::Env env = value.Env();
  const char* expected = "expected a distributed context made by createDistributed";
  if (!value.IsObject()) throw_invalid_arg(env, name, expected);
  Napi::Value h = value.As<Napi::Object>().Get("_handle");
  if (!h.IsExternal()) throw_invalid_arg(env, name, expected);
  auto holder = *h.As<Napi::External<std::shared_ptr<Holder>>>().Data();
  return live(env, holder);
}

void RegisterDistributed(Napi::Env env, Napi::Object exports) {
  exports.Set("createDistributed", Napi::Function::New(env, CreateDistributed, "createDistributed"));
  exports.Set("distributedAvailable", Napi::Boolean::New(env, distributed_available()));
}

}  // namespace liverseg::addon
