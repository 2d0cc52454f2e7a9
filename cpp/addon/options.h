// Options read from JS objects into the core's plain structs, on the JS thread before work starts.
// TypeScript resolves every option and default: every field read here is required, and a missing
// field or one of the wrong type is an ERR_INVALID_ARG naming it. Strings become the core's enums.
#pragma once
#include <napi.h>

#include <array>
#include <cstdint>
#include <string>

#include "core/model.h"
#include "core/optim/optimizer.h"

namespace liverseg::addon {

// Required fields of `o`. `prefix` names the object in error messages ("optimizer" gives
// 'optimizer.lr'); empty for a top-level object.
double read_number(const Napi::Object& o, const char* key, const std::string& prefix = "");
bool read_bool(const Napi::Object& o, const char* key, const std::string& prefix = "");
std::string read_string(const Napi::Object& o, const char* key, const std::string& prefix = "");

// An object argument; `name` is the argument's name in the error.
Napi::Object read_object(const Napi::Value& value, const std::string& name);

// [D, H, W] of positive integers.
std::array<int64_t, 3> read_size3(const Napi::Value& value, const char* name);

// { inChannels, outChannels, channels, block, dropout, device, precision, seed, channelsLast, includeBackground, optimizer }
ModelOptions read_model_options(const Napi::Object& config);
// { name, lr, beta1, beta2, eps, weightDecay, gradAveraging, amsgrad }; `name` prefixes the fields.
OptimizerOptions read_optimizer_options(const Napi::Value& value, const std::string& name);
// { sliding, roi (when sliding), overlap, blend, sigmaScale, batchSize, accumulate, deviceLimitBytes,
//   mirror, intensity (absent, or { aMin, aMax, bMin, bMax, clip }), output }
PredictOptions read_predict_options(const Napi::Object& options);

}  // namespace liverseg::addon
