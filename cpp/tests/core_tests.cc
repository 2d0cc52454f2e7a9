// The core's own checks, run without Node: `cmake -DLIVERSEG_BUILD_CORE_TESTS=ON` then
// `liverseg_core_tests`. The jest suite covers the same math through the addon in more depth.
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/errors.h"
#include "core/inferers/sliding_window.h"
#include "core/losses/dice_loss.h"
#include "core/memory.h"
#include "core/model.h"
#include "core/ops/components.h"

using namespace liverseg;

static int failures = 0;
#define EXPECT(cond)                                                         \
  do {                                                                       \
    if (!(cond)) {                                                           \
      std::fprintf(stderr, "FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                            \
    }                                                                        \
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
  {
    // MONAI's dense_patch_slices: step int(4 * 0.75) = 3, the last start pulled back to 10 - 4.
    EXPECT(window_starts(10, 4, 0.25) == std::vector<int64_t>({0, 3, 6}));
    EXPECT(window_starts(11, 4, 0.25) == std::vector<int64_t>({0, 3, 6, 7}));
    EXPECT(window_starts(3, 4, 0.25) == std::vector<int64_t>({0}));
    EXPECT(window_starts(8, 4, 0.0) == std::vector<int64_t>({0, 4}));
  }
  {
    auto w = importance_map({6, 5, 4}, BlendMode::Gaussian, 0.125, torch::TensorOptions());
    EXPECT(w.sizes() == torch::IntArrayRef({6, 5, 4}));
    EXPECT(w.scalar_type() == torch::kFloat32);
    EXPECT(std::abs(w.max().item<double>() - 1.0) < 1e-6);
    EXPECT(w.min().item<double>() >= 1e-3 - 1e-9);
    // the peak sits at roi / 2 on every axis
    EXPECT(std::abs(w[3][2][2].item<double>() - 1.0) < 1e-6);
    auto c = importance_map({3, 3, 3}, BlendMode::Constant, 0.125, torch::TensorOptions());
    EXPECT(c.eq(1).all().item<bool>());
  }
  {
    // Sliding windows with constant blending reproduce an identity predictor exactly, including
    // a volume smaller than the window (padded, then cropped back).
    SlidingWindowOptions o;
    o.roi = {4, 4, 4};
    o.mode = BlendMode::Constant;
    auto x = torch::randn({1, 1, 10, 7, 3});
    Predictor identity = [](const torch::Tensor& b) { return b.clone(); };
    auto y = sliding_window_inference(x, identity, o);
    EXPECT(y.sizes() == x.sizes());
    EXPECT(torch::allclose(y, x, 1e-5, 1e-6));
  }
  {
    bool coded = false;
    try {
      SlidingWindowOptions o;
      o.overlap = 1.0;
      sliding_window_inference(
          torch::zeros({1, 1, 4, 4, 4}), [](const torch::Tensor& b) { return b; }, o);
    } catch (const CoreError& e) {
      coded = e.code() == "ERR_INVALID_ARG";
    }
    EXPECT(coded);
    EXPECT(is_out_of_memory(std::runtime_error("CUDA out of memory. Tried to allocate 2.00 GiB")));
    EXPECT(!is_out_of_memory(std::runtime_error("shape mismatch")));
  }
  {
    // Every option the addon parses is an enum in the core: a plain ResUNet and Adam build and step.
    ModelOptions o;
    o.device = "cpu";
    o.net.channels = {2, 4};
    o.net.block = Block::Plain;
    o.precision = Precision::Off;
    o.optimizer.kind = OptimizerKind::Adam;
    o.optimizer.beta2 = 0.999;
    Model m(o);
    EXPECT(m.parameter_count() == expected_parameter_count(o.net));
    EXPECT(std::string(optimizer_name(m.options().optimizer.kind)) == "adam");
    auto before = m.weights()[0].second.clone();
    const double loss = m.train_step(torch::randn({1, 1, 4, 4, 4}), torch::ones({1, 1, 4, 4, 4}));
    EXPECT(std::isfinite(loss));
    EXPECT(!torch::equal(before, m.weights()[0].second));
    PredictOptions p;
    p.window.roi = {4, 4, 4};
    p.output = OutputKind::Probabilities;
    auto prob = m.predict_volume(torch::randn({6, 5, 4}), p);
    EXPECT(prob.sizes() == torch::IntArrayRef({1, 6, 5, 4}));
    EXPECT(prob.min().item<double>() >= 0 && prob.max().item<double>() <= 1);
  }
  std::printf("%s\n", failures ? "core tests FAILED" : "core tests passed");
  return failures ? 1 : 0;
}
