#include "tensors.h"

#include <string>

#include "core/errors.h"
#include "errors.h"

namespace liverseg::addon {

namespace {

torch::ScalarType dtype_of(Napi::Env env, napi_typedarray_type t, const char* name) {
  switch (t) {
    case napi_uint8_array: return torch::kUInt8;
    case napi_int8_array: return torch::kInt8;
    case napi_int16_array: return torch::kInt16;
    case napi_int32_array: return torch::kInt32;
    case napi_float32_array: return torch::kFloat32;
    case napi_float64_array: return torch::kFloat64;
    case napi_bigint64_array: return torch::kInt64;
    default: throw_invalid_arg(env, name, "unsupported typed array type (use Uint8, Int8, Int16, Int32, Float32, Float64 or BigInt64)");
  }
}

}  // namespace

TypedArrayInfo typed_array_info(const Napi::TypedArray& ta) {
  // Straight from napi_get_typedarray_info: it also works for arrays over a SharedArrayBuffer,
  // which Napi::ArrayBuffer cannot wrap. napi_is_arraybuffer is true for an ArrayBuffer and false
  // for a SharedArrayBuffer.
  Napi::Env env = ta.Env();
  TypedArrayInfo info;
  size_t offset = 0;
  napi_value buffer;
  NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, ta, &info.type, &info.length, &info.data, &buffer, &offset), info);
  bool is_array_buffer = false;
  NAPI_THROW_IF_FAILED(env, napi_is_arraybuffer(env, buffer, &is_array_buffer), info);
  info.shared = !is_array_buffer;
  return info;
}

TensorArg read_tensor(const Napi::Value& value, const char* name) {
  Napi::Env env = value.Env();
  if (!value.IsObject()) throw_invalid_arg(env, name, "expected { data, shape }");
  Napi::Object o = value.As<Napi::Object>();
  Napi::Value data = o.Get("data");
  if (!data.IsTypedArray()) throw_invalid_arg(env, std::string(name) + ".data", "expected a typed array");
  Napi::TypedArray ta = data.As<Napi::TypedArray>();
  Napi::Value shape_v = o.Get("shape");
  if (!shape_v.IsArray()) throw_invalid_arg(env, std::string(name) + ".shape", "expected an array of sizes");
  Napi::Array shape_a = shape_v.As<Napi::Array>();
  std::vector<int64_t> shape;
  int64_t n = 1;
  for (uint32_t i = 0; i < shape_a.Length(); ++i) {
    Napi::Value s = shape_a.Get(i);
    const double d = s.IsNumber() ? s.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= 9007199254740991.0 && d == static_cast<double>(static_cast<int64_t>(d)))) {
      throw_invalid_arg(env, std::string(name) + ".shape", "sizes must be non-negative integers");
    }
    shape.push_back(static_cast<int64_t>(d));
    if (shape.back() != 0 && n > INT64_MAX / shape.back())
      throw_invalid_arg(env, std::string(name) + ".shape", "the sizes' product is too large", "ERR_SHAPE_MISMATCH");
    n *= shape.back();
  }
  // Read once: the length, type and pointer below are one consistent snapshot (a detached buffer
  // reads as length 0 and fails the shape check).
  const TypedArrayInfo info = typed_array_info(ta);
  if (static_cast<int64_t>(info.length) != n) {
    throw_invalid_arg(env, name, "data has " + std::to_string(info.length) + " elements but the shape needs " + std::to_string(n), "ERR_SHAPE_MISMATCH");
  }
  const auto dtype = dtype_of(env, info.type, name);
  TensorArg arg;
  if (n == 0) {
    arg.tensor = torch::empty(shape, torch::dtype(dtype));
  } else if (info.shared) {
    arg.tensor = torch::from_blob(info.data, shape, torch::dtype(dtype));
    arg.holder = data;
  } else {
    // One copy on the JS thread (see TensorArg). LibTorch's copy kernel splits it across the
    // intra-op threads, which also share the first touches of the fresh pages, most of its time:
    // 100 MiB of int16 took ~38 ms with 2 threads and ~76 ms with 1 (a warm memcpy is ~13 ms).
    // Memory populated up front (MAP_POPULATE) was no faster, and transparent huge pages cut the
    // median but stalled up to 0.5 s in compaction. A SharedArrayBuffer input costs nothing.
    arg.tensor = guarded(env, [&] { return torch::from_blob(info.data, shape, torch::dtype(dtype)).clone(); });
  }
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
    ab = Napi::ArrayBuffer::New(
        env, t.data_ptr(), bytes, [](Napi::Env, void*, torch::Tensor* h) { delete h; }, holder);
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
  if (!value.IsArray()) throw_invalid_arg(env, "tensors", "expected an array of { name, data, shape }");
  Napi::Array a = value.As<Napi::Array>();
  NamedTensors out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value item = a.Get(i);
    if (!item.IsObject() || !item.As<Napi::Object>().Get("name").IsString()) throw_invalid_arg(env, "tensors", "each entry needs a string 'name'");
    std::string name = item.As<Napi::Object>().Get("name").As<Napi::String>().Utf8Value();
    TensorArg t = read_tensor(item, name.c_str());
    holders.push_back(t.holder);
    out.emplace_back(name, t.tensor);
  }
  return out;
}

}  // namespace liverseg::addon
