// The core's own checks, run without Node: `cmake -DLIVERSEG_BUILD_CORE_TESTS=ON` then
// `liverseg_core_tests`. The jest suite covers the same math through the addon in more depth.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "core/errors.h"
#include "core/inferers/sliding_window.h"
#include "core/losses/dice_loss.h"
#include "core/memory.h"
#include "core/metrics/dice_metric.h"
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
    EXPECT(w.max().item<double>() <= 1.0 && w.min().item<double>() >= 1e-3 - 1e-9);
    // An odd roi has its centre on a voxel, weight exp(0) = 1.
    EXPECT(std::abs(importance_map({5, 5, 5}, BlendMode::Gaussian, 0.125, torch::TensorOptions())[2][2][2].item<double>() - 1.0) < 1e-7);
    auto c = importance_map({3, 3, 3}, BlendMode::Constant, 0.125, torch::TensorOptions());
    EXPECT(c.eq(1).all().item<bool>());
  }
  {
    // MONAI 1.4's compute_importance_map by hand: sigma = 0.125 * roi, g(x) = exp(-(x - c)^2 /
    // (2 sigma^2)) with c = (roi - 1) / 2, the separable product, clamped to >= 1e-3, not rescaled.
    const std::array<int64_t, 3> roi{5, 4, 4};
    auto w = importance_map(roi, BlendMode::Gaussian, 0.125, torch::TensorOptions()).to(torch::kFloat64);
    auto g = [](int64_t n, int64_t x) {
      const double c = (static_cast<double>(n) - 1) / 2, s = 0.125 * static_cast<double>(n);
      return std::exp(-(x - c) * (x - c) / (2 * s * s));
    };
    double worst = 0;
    for (int64_t a = 0; a < 5; ++a)
      for (int64_t b = 0; b < 4; ++b)
        for (int64_t d = 0; d < 4; ++d) {
          const double want = std::max(g(5, a) * g(4, b) * g(4, d), 1e-3);
          worst = std::max(worst, std::abs(w[a][b][d].item<double>() - want) / want);
        }
    EXPECT(worst < 1e-5);
    // roi 5: centre 2, weight 1; roi 4: centre 1.5, so voxels 1 and 2 tie at exp(-0.5) = 0.6065.
    EXPECT(std::abs(w[2][1][1].item<double>() - std::exp(-1.0)) < 1e-6);
    EXPECT(std::abs(w[2][1][2].item<double>() - w[2][2][1].item<double>()) < 1e-9);
    EXPECT(std::abs(w.max().item<double>() - std::exp(-1.0)) < 1e-6);                  // below 1: MONAI does not rescale
    EXPECT(std::abs(w[0][0][0].item<double>() - 1e-3) < 1e-9);                         // 7.4e-7 floored
    EXPECT(std::abs(w[1][0][1].item<double>() - std::exp(-1.28 - 4.5 - 0.5)) < 1e-7);  // 0.00187, above the floor
  }
  {
    // The window count is refused before anything runs: overlap 0.99 steps one voxel at a time.
    SlidingWindowOptions o;
    o.roi = {4, 4, 4};
    o.overlap = 0.99;
    int calls = 0;
    std::string message;
    try {
      sliding_window_inference(
          torch::zeros({1, 1, 100, 100, 100}),
          [&](const torch::Tensor& b) {
            ++calls;
            return b;
          },
          o);
    } catch (const CoreError& e) {
      message = e.code() + " " + e.what();
    }
    EXPECT(message.find("ERR_INVALID_ARG") == 0);
    EXPECT(message.find("'overlap'") != std::string::npos && message.find("roi [4, 4, 4]") != std::string::npos);
    EXPECT(message.find("912673 windows") != std::string::npos);  // 97^3
    EXPECT(calls == 0);
    EXPECT(window_count(100, 4, 0.99) == 97 && window_count(3, 4, 0.99) == 1 && window_count(11, 4, 0.25) == 4);
  }
  {
    // Dice with MONAI's include_background: dropped channel 0 with several channels, ignored with one.
    auto logits = torch::tensor({10.0, 10.0, -10.0, -10.0, 10.0, -10.0, -10.0, 10.0}).view({1, 2, 4, 1, 1});
    auto target = torch::tensor({1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0}).view({1, 2, 4, 1, 1});
    const double both = dice_loss(logits, target, true).item<double>();
    const double fg = dice_loss(logits, target, false).item<double>();
    const double ch1 = dice_loss(logits.narrow(1, 1, 1), target.narrow(1, 1, 1), true).item<double>();
    EXPECT(std::abs(fg - ch1) < 1e-9 && std::abs(fg - 0.5) < 1e-3 && both < fg);
    EXPECT(dice_loss(logits.narrow(1, 0, 1), target.narrow(1, 0, 1), false).item<double>() < 1e-3);  // one channel: kept
    auto m = dice_metric(logits, target, false);
    EXPECT(m.sizes() == torch::IntArrayRef({1, 1}) && std::abs(m[0][0].item<double>() - 0.5) < 1e-12);
    EXPECT(dice_metric(logits, target, true).sizes() == torch::IntArrayRef({1, 2}));
    // AsDiscrete(threshold=0.5) after the sigmoid: logit 0 counts; one channel's truth is label == 1.
    auto l1 = torch::tensor({0.0, 1.0, -1.0, 5.0}).view({1, 1, 4, 1, 1});
    auto t1 = torch::tensor({1.0, 1.0, 0.0, 2.0}).view({1, 1, 4, 1, 1});
    EXPECT(std::abs(dice_metric(l1, t1, true)[0][0].item<double>() - 2.0 * 2 / (3 + 2)) < 1e-12);
  }
  {
    // KeepLargestConnectedComponent as MONAI: a tie keeps the component met last in MONAI's C-order
    // scan of [i, j, k] (k fastest); each value keeps its own largest component, and its value.
    const int64_t ni = 4, nj = 1, nk = 4;
    auto at = [&](int64_t i, int64_t j, int64_t k) { return static_cast<size_t>((k * nj + j) * ni + i); };
    std::vector<uint8_t> m(ni * nj * nk, 0);
    m[at(0, 0, 0)] = 1;  // first in both scans
    m[at(3, 0, 3)] = 1;  // last in both scans: MONAI keeps it (argsort of the counts, reversed)
    auto stats = keep_largest_component(m.data(), ni, nj, nk, 6);
    EXPECT(stats.components == 2 && stats.kept_voxels == 1 && stats.total_voxels == 2);
    EXPECT(m[at(0, 0, 0)] == 0 && m[at(3, 0, 3)] == 1);
    // First voxels (i, j, k) = (0, 0, 2) and (2, 0, 0): MONAI meets (0, 0, 2) first (i slowest),
    // our memory meets (2, 0, 0) first (k slowest); MONAI keeps the one it meets last, (2, 0, 0).
    std::fill(m.begin(), m.end(), 0);
    m[at(0, 0, 2)] = m[at(0, 0, 3)] = 1;
    m[at(2, 0, 0)] = m[at(3, 0, 0)] = 1;
    keep_largest_component(m.data(), ni, nj, nk, 6);
    EXPECT(m[at(0, 0, 2)] == 0 && m[at(0, 0, 3)] == 0 && m[at(2, 0, 0)] == 1 && m[at(3, 0, 0)] == 1);
    // Values 1 and 2 touch but are separate masks: 1 keeps its 3 voxels, 2 keeps its pair, not the
    // single voxel; nothing is relabelled to 1.
    std::fill(m.begin(), m.end(), 0);
    m[at(0, 0, 0)] = m[at(1, 0, 0)] = m[at(2, 0, 0)] = 1;
    m[at(3, 0, 0)] = 2;                   // touches the 1s
    m[at(0, 0, 3)] = 1;                   // a smaller 1
    m[at(2, 0, 3)] = m[at(3, 0, 3)] = 2;  // the larger 2
    stats = keep_largest_component(m.data(), ni, nj, nk, 26);
    EXPECT(stats.components == 4 && stats.kept_voxels == 5 && stats.total_voxels == 7);
    EXPECT(m[at(0, 0, 0)] == 1 && m[at(2, 0, 0)] == 1 && m[at(3, 0, 0)] == 0 && m[at(0, 0, 3)] == 0);
    EXPECT(m[at(2, 0, 3)] == 2 && m[at(3, 0, 3)] == 2);
    // Runs of different values end to end along i still join their own value's neighbours.
    std::vector<uint8_t> r(3 * 2 * 1, 0);  // ni = 3, nj = 2: rows j = 0 and j = 1
    r[0] = 1;
    r[1] = 2;
    r[2] = 2;  // row 0: 1 2 2
    r[3] = 2;
    r[4] = 1;
    r[5] = 1;  // row 1: 2 1 1
    stats = keep_largest_component(r.data(), 3, 2, 1, 26);
    EXPECT(stats.components == 2 && stats.kept_voxels == 6);  // 1s: (0,0)-(1,1) diagonal; 2s: (1,0)-(0,1) diagonal
  }
  {
    // Random multi-valued masks against a voxel-by-voxel flood fill with MONAI's rules.
    uint32_t seed = 12345;
    auto next = [&] { return seed = seed * 1664525u + 1013904223u; };
    for (int trial = 0; trial < 300; ++trial) {
      const int64_t ni = 1 + next() % 7, nj = 1 + next() % 6, nk = 1 + next() % 5;
      const int connectivity = trial % 3 == 0 ? 6 : trial % 3 == 1 ? 18 : 26;
      std::vector<uint8_t> m(static_cast<size_t>(ni * nj * nk));
      for (auto& v : m) v = next() % 100 < 45 ? static_cast<uint8_t>(1 + next() % 3) : 0;
      // Flood fill, components numbered in MONAI's C-order scan of [i, j, k] (k fastest).
      std::vector<int> comp(m.size(), -1);
      std::vector<int64_t> csize;
      std::vector<uint8_t> cval;
      for (int64_t i = 0; i < ni; ++i)
        for (int64_t j = 0; j < nj; ++j)
          for (int64_t k = 0; k < nk; ++k) {
            const size_t s0 = static_cast<size_t>((k * nj + j) * ni + i);
            if (m[s0] == 0 || comp[s0] >= 0) continue;
            const int id = static_cast<int>(csize.size());
            csize.push_back(0);
            cval.push_back(m[s0]);
            std::vector<size_t> stack{s0};
            comp[s0] = id;
            while (!stack.empty()) {
              const size_t p = stack.back();
              stack.pop_back();
              ++csize[static_cast<size_t>(id)];
              const int64_t pi = static_cast<int64_t>(p) % ni, pj = static_cast<int64_t>(p) / ni % nj, pk = static_cast<int64_t>(p) / (ni * nj);
              for (int64_t dk = -1; dk <= 1; ++dk)
                for (int64_t dj = -1; dj <= 1; ++dj)
                  for (int64_t di = -1; di <= 1; ++di) {
                    const int away = (di != 0) + (dj != 0) + (dk != 0);
                    if (away == 0 || (connectivity == 6 && away > 1) || (connectivity == 18 && away > 2)) continue;
                    const int64_t qi = pi + di, qj = pj + dj, qk = pk + dk;
                    if (qi < 0 || qj < 0 || qk < 0 || qi >= ni || qj >= nj || qk >= nk) continue;
                    const size_t q = static_cast<size_t>((qk * nj + qj) * ni + qi);
                    if (m[q] != m[s0] || comp[q] >= 0) continue;
                    comp[q] = id;
                    stack.push_back(q);
                  }
            }
          }
      // Per value: the largest, and on a tie the last numbered (MONAI's argsort(...)[::-1][0]).
      std::vector<int> best(256, -1);
      for (int c = 0; c < static_cast<int>(csize.size()); ++c) {
        int& b = best[cval[static_cast<size_t>(c)]];
        if (b < 0 || csize[static_cast<size_t>(c)] >= csize[static_cast<size_t>(b)]) b = c;
      }
      std::vector<uint8_t> want(m.size(), 0);
      for (size_t v = 0; v < m.size(); ++v)
        if (m[v] && best[m[v]] == comp[v]) want[v] = m[v];
      auto got = m;
      const auto stats = keep_largest_component(got.data(), ni, nj, nk, connectivity);
      EXPECT(got == want);
      EXPECT(stats.components == static_cast<int64_t>(csize.size()));
      if (got != want) break;
    }
  }
  {
    // Allocation failures in our words, never the allocator's text.
    const std::runtime_error cpu(
        "DefaultCPUAllocator: can't allocate memory: you tried to allocate 275000000000 bytes. Error code 12 (Cannot allocate memory)");
    EXPECT(is_out_of_memory(cpu) && !is_device_out_of_memory(cpu));
    const std::string cm = out_of_memory_message(cpu);
    EXPECT(cm.find("Out of memory: could not allocate 256.1 GiB on cpu") == 0 && cm.find("DefaultCPUAllocator") == std::string::npos);
    const std::runtime_error gpu("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 1; 15.78 GiB total capacity; 1.00 GiB already allocated)");
    EXPECT(is_device_out_of_memory(gpu));
    EXPECT(out_of_memory_message(gpu).find("Out of memory: could not allocate 2.0 GiB on cuda:1") == 0);
    EXPECT(is_out_of_memory(std::bad_alloc()) && out_of_memory_message(std::bad_alloc()).find("Out of memory: a host allocation failed") == 0);
    EXPECT(format_bytes(512) == "512 bytes" && format_bytes(1536) == "1.5 KiB");
    std::string real;
    try {
      torch::empty({int64_t(1) << 50}, torch::kUInt8);  // 1 PiB: fails on any machine
    } catch (const std::exception& e) {
      if (is_out_of_memory(e)) real = out_of_memory_message(e);
    }
    EXPECT(real.find("Out of memory: could not allocate 1.0 PiB on cpu") == 0);
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
    EXPECT(is_out_of_memory(std::runtime_error("DefaultCPUAllocator: can't allocate memory: you tried to allocate 8 bytes.")));
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
