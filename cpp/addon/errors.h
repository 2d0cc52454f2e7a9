// Every coded JS error the addon throws or rejects with is built here: argument mistakes found
// while reading JS values, and C++ exceptions caught from the core, which get a stable `code`
// and a message without LibTorch's C++ backtraces. Every code is one of ERROR_CODES in
// src/ts/errors.ts.
#pragma once
#include <napi.h>

#include <exception>
#include <string>

namespace liverseg::addon {

struct CapturedError {
  std::string code;
  std::string message;
};

// Call inside a catch block: classifies the exception in flight.
CapturedError capture_current_exception();

// The one builder of coded errors: a JS Error with `code` set.
Napi::Error coded_error(Napi::Env env, const std::string& code, const std::string& message);
[[noreturn]] void throw_coded(Napi::Env env, const std::string& code, const std::string& message);
// "Invalid argument 'name': problem", the format the TypeScript layer uses too.
[[noreturn]] void throw_invalid_arg(Napi::Env env, const std::string& name, const std::string& problem, const char* code = "ERR_INVALID_ARG");

// Runs fn and rethrows any C++ exception as a coded JS error.
template <typename Fn>
auto guarded(Napi::Env env, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    CapturedError e = capture_current_exception();
    throw_coded(env, e.code, e.message);
  }
}

}  // namespace liverseg::addon
