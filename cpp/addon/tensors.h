// Tensors across the boundary: JS typed arrays read as tensors that view their memory (on the JS
// thread, before work starts) and tensors handed back as typed arrays over their own memory (on
// the JS thread, after it ends).
#pragma once
#include <napi.h>
#include <torch/torch.h>

#include <vector>

#include "core/optim/optimizer.h"

namespace liverseg::addon {

// A view of a JS typed array as a tensor, without copying. `holder` is the typed array to keep
// alive while the tensor is in use.
struct TensorArg {
  torch::Tensor tensor;
  Napi::Value holder;
};

// The first element of a typed array, whether its buffer is an ArrayBuffer or a SharedArrayBuffer.
void* typed_array_data(const Napi::TypedArray& ta);

// value: { data: TypedArray, shape: number[] } with shape in tensor order.
TensorArg read_tensor(const Napi::Value& value, const char* name);

// A zero-copy typed array over a CPU tensor's memory; the tensor lives until JS collects it.
Napi::Value tensor_to_js(Napi::Env env, const torch::Tensor& tensor);
// { data, shape }
Napi::Object tensor_with_shape(Napi::Env env, const torch::Tensor& tensor);

Napi::Array named_tensors_to_js(Napi::Env env, const NamedTensors& tensors);
// Reads [{ name, data, shape }] into tensors that view the JS memory; holders keep them alive.
NamedTensors read_named_tensors(const Napi::Value& value, std::vector<Napi::Value>& holders);

}  // namespace liverseg::addon
