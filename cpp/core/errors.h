// Core errors carry a stable code that the addon passes to JavaScript unchanged.
#pragma once
#include <stdexcept>
#include <string>

namespace liverseg {

class CoreError : public std::runtime_error {
 public:
  CoreError(std::string code, const std::string& message) : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

// Raised by long operations when their cancel flag was set between units of work.
class Cancelled : public CoreError {
 public:
  Cancelled() : CoreError("ERR_ABORTED", "The operation was aborted") {}
};

inline void require(bool ok, const std::string& message, const char* code = "ERR_INVALID_ARG") {
  if (!ok) throw CoreError(code, message);
}

}  // namespace liverseg
