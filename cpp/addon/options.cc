#include "options.h"

#include <initializer_list>
#include <utility>

#include "errors.h"

namespace liverseg::addon {

namespace {

std::string field_name(const std::string& prefix, const char* key) { return prefix.empty() ? std::string(key) : prefix + "." + key; }

// A required field's value, or an error naming it when it is missing or of the wrong kind.
Napi::Value required(const Napi::Object& o, const char* key, const std::string& prefix, bool (Napi::Value::*is)() const, const char* expected) {
  Napi::Value v = o.Get(key);
  if (!(v.*is)()) throw_invalid_arg(o.Env(), field_name(prefix, key), v.IsUndefined() ? std::string("is required (") + expected + ")" : std::string(expected));
  return v;
}

template <typename E>
E read_enum(const Napi::Object& o, const char* key, const std::string& prefix, std::initializer_list<std::pair<const char*, E>> choices) {
  const std::string s = read_string(o, key, prefix);
  std::string expected = "expected ";
  size_t i = 0;
  for (const auto& [name, value] : choices) {
    if (s == name) return value;
    expected += std::string(i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + "'" + name + "'";
    ++i;
  }
  throw_invalid_arg(o.Env(), field_name(prefix, key), expected + ", got '" + s + "'");
}

}  // namespace

double read_number(const Napi::Object& o, const char* key, const std::string& prefix) {
  return required(o, key, prefix, &Napi::Value::IsNumber, "expected a number").As<Napi::Number>().DoubleValue();
}

bool read_bool(const Napi::Object& o, const char* key, const std::string& prefix) {
  return required(o, key, prefix, &Napi::Value::IsBoolean, "expected a boolean").As<Napi::Boolean>().Value();
}

std::string read_string(const Napi::Object& o, const char* key, const std::string& prefix) {
  return required(o, key, prefix, &Napi::Value::IsString, "expected a string").As<Napi::String>().Utf8Value();
}

Napi::Object read_object(const Napi::Value& value, const std::string& name) {
  if (!value.IsObject()) throw_invalid_arg(value.Env(), name, "expected an object");
  return value.As<Napi::Object>();
}

std::array<int64_t, 3> read_size3(const Napi::Value& value, const char* name) {
  Napi::Env env = value.Env();
  if (!value.IsArray() || value.As<Napi::Array>().Length() != 3) throw_invalid_arg(env, name, "expected 3 sizes");
  std::array<int64_t, 3> out{};
  for (uint32_t i = 0; i < 3; ++i) {
    Napi::Value v = value.As<Napi::Array>().Get(i);
    if (!v.IsNumber() || v.As<Napi::Number>().Int64Value() < 1) throw_invalid_arg(env, name, "sizes must be positive integers");
    out[i] = v.As<Napi::Number>().Int64Value();
  }
  return out;
}

OptimizerOptions read_optimizer_options(const Napi::Value& value, const std::string& name) {
  Napi::Object c = read_object(value, name);
  OptimizerOptions o;
  o.kind = read_enum<OptimizerKind>(c, "name", name, {{"novograd", OptimizerKind::Novograd}, {"adam", OptimizerKind::Adam}});
  o.lr = read_number(c, "lr", name);
  o.beta1 = read_number(c, "beta1", name);
  o.beta2 = read_number(c, "beta2", name);
  o.eps = read_number(c, "eps", name);
  o.weight_decay = read_number(c, "weightDecay", name);
  o.grad_averaging = read_bool(c, "gradAveraging", name);
  o.amsgrad = read_bool(c, "amsgrad", name);
  return o;
}

ModelOptions read_model_options(const Napi::Object& c) {
  Napi::Env env = c.Env();
  ModelOptions o;
  o.net.in_channels = static_cast<int64_t>(read_number(c, "inChannels"));
  o.net.out_channels = static_cast<int64_t>(read_number(c, "outChannels"));
  Napi::Value ch = c.Get("channels");
  if (!ch.IsArray()) throw_invalid_arg(env, "channels", "expected an array of integers");
  o.net.channels.clear();
  Napi::Array a = ch.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value v = a.Get(i);
    if (!v.IsNumber()) throw_invalid_arg(env, "channels", "expected an array of integers");
    o.net.channels.push_back(v.As<Napi::Number>().Int64Value());
  }
  o.net.block = read_enum<Block>(c, "block", "", {{"residual", Block::Residual}, {"plain", Block::Plain}});
  o.net.dropout = read_number(c, "dropout");
  o.device = read_string(c, "device");
  o.precision =
      read_enum<Precision>(c, "precision", "", {{"auto", Precision::Auto}, {"off", Precision::Off}, {"bf16", Precision::BF16}, {"fp16", Precision::FP16}});
  o.seed = static_cast<uint64_t>(read_number(c, "seed"));
  o.channels_last = read_bool(c, "channelsLast");
  o.include_background = read_bool(c, "includeBackground");
  o.optimizer = read_optimizer_options(c.Get("optimizer"), "optimizer");
  return o;
}

PredictOptions read_predict_options(const Napi::Object& c) {
  PredictOptions o;
  o.sliding = read_bool(c, "sliding");
  if (o.sliding) o.window.roi = read_size3(c.Get("roi"), "roi");
  o.window.overlap = read_number(c, "overlap");
  o.window.mode = read_enum<BlendMode>(c, "blend", "", {{"gaussian", BlendMode::Gaussian}, {"constant", BlendMode::Constant}});
  o.window.sigma_scale = read_number(c, "sigmaScale");
  o.window.batch_size = static_cast<int64_t>(read_number(c, "batchSize"));
  o.window.accumulate = read_enum<Accumulate>(c, "accumulate", "", {{"auto", Accumulate::Auto}, {"device", Accumulate::Device}, {"cpu", Accumulate::Cpu}});
  o.window.device_limit_bytes = static_cast<int64_t>(read_number(c, "deviceLimitBytes"));
  o.mirror = read_bool(c, "mirror");
  Napi::Value w = c.Get("intensity");
  if (!w.IsUndefined() && !w.IsNull()) {
    if (!w.IsObject()) throw_invalid_arg(c.Env(), "intensity", "expected { aMin, aMax, bMin, bMax, clip }");
    Napi::Object wo = w.As<Napi::Object>();
    o.intensity.enabled = true;
    o.intensity.a_min = read_number(wo, "aMin", "intensity");
    o.intensity.a_max = read_number(wo, "aMax", "intensity");
    o.intensity.b_min = read_number(wo, "bMin", "intensity");
    o.intensity.b_max = read_number(wo, "bMax", "intensity");
    o.intensity.clip = read_bool(wo, "clip", "intensity");
  }
  o.output = read_enum<OutputKind>(c, "output", "", {{"mask", OutputKind::Mask}, {"probabilities", OutputKind::Probabilities}, {"logits", OutputKind::Logits}});
  return o;
}

}  // namespace liverseg::addon
