#include "convert.h"

#include "core/errors.h"

namespace liverseg::addon {

namespace {

[[noreturn]] void type_error(Napi::Env env, const std::string& name, const std::string& problem) {
  Napi::Error e = Napi::TypeError::New(env, "Invalid argument '" + name + "': " + problem);
  e.Set("code", Napi::String::New(env, "ERR_INVALID_ARG"));
  throw e;
}

torch::ScalarType dtype_of(Napi::Env env, napi_typedarray_type t, const char* name) {
  switch (t) {
    case napi_uint8_array: return torch::kUInt8;
    case napi_int8_array: return torch::kInt8;
    case napi_int16_array: return torch::kInt16;
    case napi_int32_array: return torch::kInt32;
    case napi_float32_array: return torch::kFloat32;
    case napi_float64_array: return torch::kFloat64;
    case napi_bigint64_array: return torch::kInt64;
    default: type_error(env, name, "unsupported typed array type (use Uint8, Int8, Int16, Int32, Float32, Float64 or BigInt64)");
  }
}

double number_or(const Napi::Object& o, const char* key, double fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) type_error(o.Env(), key, "expected a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool bool_or(const Napi::Object& o, const char* key, bool fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) type_error(o.Env(), key, "expected a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string string_or(const Napi::Object& o, const char* key, const std::string& fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsString()) type_error(o.Env(), key, "expected a string");
  return v.As<Napi::String>().Utf8Value();
}

}  // namespace

void* typed_array_data(const Napi::TypedArray& ta) {
  // Straight from napi_get_typedarray_info: it also works for arrays over a SharedArrayBuffer,
  // which Napi::ArrayBuffer cannot wrap (the data loader's cache lives in shared memory).
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void* data = nullptr;
  napi_value buffer;
  NAPI_THROW_IF_FAILED(ta.Env(), napi_get_typedarray_info(ta.Env(), ta, &type, &length, &data, &buffer, &offset), nullptr);
  return data;
}

TensorArg read_tensor(const Napi::Value& value, const char* name) {
  Napi::Env env = value.Env();
  if (!value.IsObject()) type_error(env, name, "expected { data, shape }");
  Napi::Object o = value.As<Napi::Object>();
  Napi::Value data = o.Get("data");
  if (!data.IsTypedArray()) type_error(env, std::string(name) + ".data", "expected a typed array");
  Napi::TypedArray ta = data.As<Napi::TypedArray>();
  Napi::Value shape_v = o.Get("shape");
  if (!shape_v.IsArray()) type_error(env, std::string(name) + ".shape", "expected an array of sizes");
  Napi::Array shape_a = shape_v.As<Napi::Array>();
  std::vector<int64_t> shape;
  int64_t n = 1;
  for (uint32_t i = 0; i < shape_a.Length(); ++i) {
    Napi::Value s = shape_a.Get(i);
    if (!s.IsNumber() || s.As<Napi::Number>().Int64Value() < 0) type_error(env, std::string(name) + ".shape", "sizes must be non-negative integers");
    shape.push_back(s.As<Napi::Number>().Int64Value());
    n *= shape.back();
  }
  if (static_cast<int64_t>(ta.ElementLength()) != n) {
    Napi::Error e = Napi::Error::New(env, "Invalid argument '" + std::string(name) + "': data has " + std::to_string(ta.ElementLength()) +
                                              " elements but the shape needs " + std::to_string(n));
    e.Set("code", Napi::String::New(env, "ERR_SHAPE_MISMATCH"));
    throw e;
  }
  const auto dtype = dtype_of(env, ta.TypedArrayType(), name);
  void* ptr = typed_array_data(ta);
  TensorArg arg;
  arg.tensor = n == 0 ? torch::empty(shape, torch::dtype(dtype)) : torch::from_blob(ptr, shape, torch::dtype(dtype));
  arg.holder = data;
  return arg;
}

Napi::Value tensor_to_js(Napi::Env env, const torch::Tensor& input) {
  torch::Tensor t = input.to(torch::kCPU).contiguous();
  if (t.scalar_type() == torch::kBool) t = t.to(torch::kUInt8);
  if (t.scalar_type() == torch::kBFloat16 || t.scalar_type() == torch::kHalf) t = t.to(torch::kFloat32);
  const size_t bytes = t.nbytes();
  Napi::ArrayBuffer ab;
  if (bytes == 0) {
    ab = Napi::ArrayBuffer::New(env, 0);
  } else {
    auto* holder = new torch::Tensor(t);
    ab = Napi::ArrayBuffer::New(env, t.data_ptr(), bytes, [](Napi::Env, void*, torch::Tensor* h) { delete h; }, holder);
  }
  const size_t n = static_cast<size_t>(t.numel());
  switch (t.scalar_type()) {
    case torch::kUInt8: return Napi::Uint8Array::New(env, n, ab, 0);
    case torch::kInt8: return Napi::Int8Array::New(env, n, ab, 0);
    case torch::kInt16: return Napi::Int16Array::New(env, n, ab, 0);
    case torch::kInt32: return Napi::Int32Array::New(env, n, ab, 0);
    case torch::kInt64: return Napi::BigInt64Array::New(env, n, ab, 0);
    case torch::kFloat64: return Napi::Float64Array::New(env, n, ab, 0);
    case torch::kFloat32: return Napi::Float32Array::New(env, n, ab, 0);
    default: throw CoreError("ERR_TORCH", "Cannot return a tensor of type " + std::string(c10::toString(t.scalar_type())) + " to JavaScript");
  }
}

Napi::Object tensor_with_shape(Napi::Env env, const torch::Tensor& tensor) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("data", tensor_to_js(env, tensor));
  Napi::Array shape = Napi::Array::New(env, static_cast<size_t>(tensor.dim()));
  for (int64_t i = 0; i < tensor.dim(); ++i) shape.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(tensor.size(i))));
  o.Set("shape", shape);
  return o;
}

Napi::Array named_tensors_to_js(Napi::Env env, const NamedTensors& tensors) {
  Napi::Array out = Napi::Array::New(env, tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    Napi::Object o = tensor_with_shape(env, tensors[i].second);
    o.Set("name", Napi::String::New(env, tensors[i].first));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

NamedTensors read_named_tensors(const Napi::Value& value, std::vector<Napi::Value>& holders) {
  Napi::Env env = value.Env();
  if (!value.IsArray()) type_error(env, "tensors", "expected an array of { name, data, shape }");
  Napi::Array a = value.As<Napi::Array>();
  NamedTensors out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value item = a.Get(i);
    if (!item.IsObject() || !item.As<Napi::Object>().Get("name").IsString()) type_error(env, "tensors", "each entry needs a string 'name'");
    std::string name = item.As<Napi::Object>().Get("name").As<Napi::String>().Utf8Value();
    TensorArg t = read_tensor(item, name.c_str());
    holders.push_back(t.holder);
    out.emplace_back(name, t.tensor);
  }
  return out;
}

std::array<int64_t, 3> read_size3(const Napi::Value& value, const char* name) {
  Napi::Env env = value.Env();
  if (!value.IsArray() || value.As<Napi::Array>().Length() != 3) type_error(env, name, "expected 3 sizes");
  std::array<int64_t, 3> out{};
  for (uint32_t i = 0; i < 3; ++i) {
    Napi::Value v = value.As<Napi::Array>().Get(i);
    if (!v.IsNumber() || v.As<Napi::Number>().Int64Value() < 1) type_error(env, name, "sizes must be positive integers");
    out[i] = v.As<Napi::Number>().Int64Value();
  }
  return out;
}

ModelOptions read_model_options(const Napi::Object& c) {
  Napi::Env env = c.Env();
  ModelOptions o;
  o.net.in_channels = static_cast<int64_t>(number_or(c, "inChannels", 1));
  o.net.out_channels = static_cast<int64_t>(number_or(c, "outChannels", 1));
  Napi::Value ch = c.Get("channels");
  if (!ch.IsUndefined()) {
    if (!ch.IsArray()) type_error(env, "channels", "expected an array of integers");
    o.net.channels.clear();
    Napi::Array a = ch.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value v = a.Get(i);
      if (!v.IsNumber()) type_error(env, "channels", "expected an array of integers");
      o.net.channels.push_back(v.As<Napi::Number>().Int64Value());
    }
  }
  const std::string block = string_or(c, "block", "residual");
  if (block != "residual" && block != "plain") type_error(env, "block", "expected 'residual' or 'plain'");
  o.net.residual = block == "residual";
  o.net.dropout = number_or(c, "dropout", 0.0);
  o.device = string_or(c, "device", "auto");
  o.precision = string_or(c, "precision", "auto");
  o.seed = static_cast<uint64_t>(number_or(c, "seed", 0));
  o.channels_last = bool_or(c, "channelsLast", false);
  Napi::Value opt = c.Get("optimizer");
  if (!opt.IsUndefined()) {
    if (!opt.IsObject()) type_error(env, "optimizer", "expected an object");
    Napi::Object oo = opt.As<Napi::Object>();
    o.optimizer.name = string_or(oo, "name", "novograd");
    o.optimizer.lr = number_or(oo, "lr", 1e-3);
    o.optimizer.beta1 = number_or(oo, "beta1", 0.9);
    o.optimizer.beta2 = number_or(oo, "beta2", o.optimizer.name == "adam" ? 0.999 : 0.98);
    o.optimizer.eps = number_or(oo, "eps", 1e-8);
    o.optimizer.weight_decay = number_or(oo, "weightDecay", 0.0);
    o.optimizer.grad_averaging = bool_or(oo, "gradAveraging", false);
    o.optimizer.amsgrad = bool_or(oo, "amsgrad", false);
  }
  return o;
}

PredictOptions read_predict_options(const Napi::Object& c) {
  Napi::Env env = c.Env();
  PredictOptions o;
  o.sliding = bool_or(c, "sliding", true);
  if (o.sliding) o.window.roi = read_size3(c.Get("roi"), "roi");
  o.window.overlap = number_or(c, "overlap", 0.25);
  o.window.mode = string_or(c, "blend", "gaussian");
  o.window.sigma_scale = number_or(c, "sigmaScale", 0.125);
  o.window.batch_size = static_cast<int64_t>(number_or(c, "batchSize", 1));
  o.window.accumulate = string_or(c, "accumulate", "auto");
  o.window.device_limit_bytes = static_cast<int64_t>(number_or(c, "deviceLimitBytes", static_cast<double>(int64_t(4) << 30)));
  o.mirror = bool_or(c, "mirror", false);
  Napi::Value w = c.Get("intensity");
  if (!w.IsUndefined() && !w.IsNull()) {
    if (!w.IsObject()) type_error(env, "intensity", "expected { aMin, aMax, bMin, bMax, clip }");
    Napi::Object wo = w.As<Napi::Object>();
    o.intensity.enabled = true;
    o.intensity.a_min = number_or(wo, "aMin", -300);
    o.intensity.a_max = number_or(wo, "aMax", 300);
    o.intensity.b_min = number_or(wo, "bMin", 0);
    o.intensity.b_max = number_or(wo, "bMax", 1);
    o.intensity.clip = bool_or(wo, "clip", true);
  }
  const std::string out = string_or(c, "output", "mask");
  if (out == "mask") o.output = OutputKind::Mask;
  else if (out == "probabilities") o.output = OutputKind::Probabilities;
  else if (out == "logits") o.output = OutputKind::Logits;
  else type_error(env, "output", "expected 'mask', 'probabilities' or 'logits'");
  return o;
}

}  // namespace liverseg::addon
