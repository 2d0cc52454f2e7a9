// The distributed context as a JS object: createDistributed(options) rendezvous off the JS thread
// and resolves { rank, worldSize, allReduceSum, barrier, close, _handle }; Model.attachDistributed
// takes that object.
#pragma once
#include <napi.h>

#include <memory>

#include "core/distributed/distributed.h"

namespace liverseg::addon {

void RegisterDistributed(Napi::Env env, Napi::Object exports);
// The context held by a JS object made by createDistributed; ERR_INVALID_ARG otherwise or after close().
std::shared_ptr<ProcessGroupContext> read_distributed(const Napi::Value& value, const char* name);

}  // namespace liverseg::addon
