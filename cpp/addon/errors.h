// Every entry point catches C++ exceptions here and turns them into a JS Error with a stable
// `code`; messages never carry LibTorch's C++ backtraces.
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

Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message);

// Runs fn and rethrows any C++ exception as a coded JS error.
template <typename Fn>
auto guarded(Napi::Env env, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    CapturedError e = capture_current_exception();
    throw make_error(env, e.code, e.message);
  }
}

}  // namespace liverseg::addon
