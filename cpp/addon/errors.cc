#include "errors.h"

#include <c10/util/Exception.h>

#include "core/errors.h"
#include "core/memory.h"

namespace liverseg::addon {

namespace {
// LibTorch messages can still embed source locations after the first line; keep the first
// paragraph, which is the human-readable part.
std::string first_paragraph(std::string s) {
  const auto cut = s.find("\nException raised from");
  if (cut != std::string::npos) s.resize(cut);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}
}  // namespace

CapturedError capture_current_exception() {
  try {
    throw;
  } catch (const CoreError& e) {
    return {e.code(), e.what()};
  } catch (const c10::Error& e) {
    // Allocation failures in our words (size and device), never the allocator's own text.
    if (is_out_of_memory(e)) return {"ERR_TORCH_OOM", out_of_memory_message(e)};
    return {"ERR_TORCH", "LibTorch error: " + first_paragraph(e.what_without_backtrace())};
  } catch (const std::exception& e) {
    // std::bad_alloc lands here.
    if (is_out_of_memory(e)) return {"ERR_TORCH_OOM", out_of_memory_message(e)};
    return {"ERR_TORCH", first_paragraph(e.what())};
  } catch (...) {
    return {"ERR_TORCH", "Unknown native error"};
  }
}

Napi::Error coded_error(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

void throw_coded(Napi::Env env, const std::string& code, const std::string& message) { throw coded_error(env, code, message); }

void throw_invalid_arg(Napi::Env env, const std::string& name, const std::string& problem, const char* code) {
  throw_coded(env, code, "Invalid argument '" + name + "': " + problem);
}

}  // namespace liverseg::addon
