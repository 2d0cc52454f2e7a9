// Tensors across the boundary: JS typed arrays read as tensors (on the JS thread, before work
// starts: copied from a detachable ArrayBuffer, viewed in place in a SharedArrayBuffer) and tensors
// handed back as typed arrays over their own memory (on the JS thread, after it ends).
#pragma once
#include <napi.h>
#include <torch/torch.h>

#include <vector>

#include "core/optim/optimizer.h"

namespace liverseg::addon {

// A JS typed array read as a tensor. A plain ArrayBuffer can be detached (transferred to a
// worker, structuredClone with transfer) while the call runs, and its memory then belongs to
// someone else or is freed: such data is copied into a tensor the C++ side owns, on the JS
// thread, before the call returns. A SharedArrayBuffer cannot be detached and stays alive while
// `holder` is referenced, so it is read in place, without a copy (the data loader's cache).
struct TensorArg {
  torch::Tensor tensor;
  Napi::Value holder;  // the typed array to keep alive while `tensor` views it (empty after a copy)
};

struct TypedArrayInfo {
  napi_typedarray_type type;
  size_t length = 0;     // elements
  void* data = nullptr;  // the first element
  bool shared = false;   // over a SharedArrayBuffer
};

// The element type, length and first element of a typed array, whether its buffer is an
// ArrayBuffer or a SharedArrayBuffer.
TypedArrayInfo typed_array_info(const Napi::TypedArray& ta);

// value: { data: TypedArray, shape: number[] } with shape in tensor order.
TensorArg read_tensor(const Napi::Value& value, const char* name);

// A zero-copy typed array over a CPU tensor's memory; the tensor lives until JS collects it.
Napi::Value tensor_to_js(Napi::Env env, const torch::Tensor& tensor);
// { data, shape }
Napi::Object tensor_with_shape(Napi::Env env, const torch::Tensor& tensor);

Napi::Array named_tensors_to_js(Napi::Env env, const NamedTensors& tensors);
// Reads [{ name, data, shape }] as read_tensor does; holders keep the shared ones alive.
NamedTensors read_named_tensors(const Napi::Value& value, std::vector<Napi::Value>& holders);

}  // namespace liverseg::addon
