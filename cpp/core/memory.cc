#include "memory.h"

#include <cstring>

namespace liverseg {

bool is_out_of_memory(const std::exception& e) {
  const char* what = e.what();
  return std::strstr(what, "out of memory") != nullptr || std::strstr(what, "CUDA out of memory") != nullptr;
}

}  // namespace liverseg
