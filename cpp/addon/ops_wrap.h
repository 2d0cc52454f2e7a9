#pragma once
#include <napi.h>

namespace liverseg::addon {

// Free functions: backend description, threads and seeds, voxel ops; and the test hooks
// _diceLoss, _diceMetric, _optimizerSteps, _importanceMap and _isZeroCopy (exposed so they can be checked from JavaScript).
void RegisterOps(Napi::Env env, Napi::Object exports);

}  // namespace liverseg::addon
