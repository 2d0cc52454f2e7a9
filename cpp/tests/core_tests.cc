// The core's own checks, run without Node: `cmake -DLIVERSEG_BUILD_CORE_TESTS=ON` then
// `liverseg_core_tests`. The jest suite covers the same math through the addon in more depth.
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/losses/dice_loss.h"
#include "core/model.h"
#include "core/ops/components.h"

using namespace liverseg;

static int failures = 0;
#define EXPECT(cond)                                              \
  do {                                                           \
    if (!(cond)) {                                               \
      std::fprintf(stderr, "FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                \
    }                                                            \
  } while (0)

int main() {
  {
    ResUNetOptions o;
    o.channels = {4, 8, 16};
    ResUNet3D net(o);
    int64_t n = 0;
    for (const auto& p : net->parameters()) n += p.numel();
    EXPECT(n == expected_parameter_count(o));
    net->eval();
    torch::NoGradGuard g;
    auto y = net->forward(torch::randn({1, 1, 13, 10, 7}));
    EXPECT(y.sizes() == torch::IntArrayRef({1, 1, 13, 10, 7}));
  }
  {
    auto logits = torch::full({1, 1, 2, 2, 2}, 100.0);
    auto target = torch::ones({1, 1, 2, 2, 2});
    EXPECT(dice_loss(logits, target).item<double>() < 1e-6);
  }
  {
    // Two cubes touching only at a corner: one component under 26-connectivity, two under 6.
    std::vector<uint8_t> m(4 * 4 * 4, 0);
    m[0] = 1;
    m[1 + 4 * 1 + 16 * 1] = 1;
    m[3 + 4 * 3 + 16 * 3] = 1;
    auto a = m;
    EXPECT(keep_largest_component(a.data(), 4, 4, 4, 26).components == 2);
    auto b = m;
    EXPECT(keep_largest_component(b.data(), 4, 4, 4, 6).components == 3);
  }
  std::printf("%s\n", failures ? "core tests FAILED" : "core tests passed");
  return failures ? 1 : 0;
}
