// Connected components of a binary mask, on runs of voxels rather than voxels: a liver mask of a
// 512x512x500 CT has a few hundred thousand runs, so the union-find stays small and fast.
#pragma once
#include <cstdint>
#include <vector>

namespace liverseg {

struct ComponentStats {
  int64_t components = 0;
  int64_t kept_voxels = 0;
  int64_t total_voxels = 0;
};

// Keeps only the largest component of a mask in [nk][nj][ni] order (i fastest), in place.
// connectivity is 6, 18 or 26.
ComponentStats keep_largest_component(uint8_t* mask, int64_t ni, int64_t nj, int64_t nk, int connectivity = 26);

// Labels every component (1..n by decreasing size) into labels; returns their sizes.
std::vector<int64_t> label_components(const uint8_t* mask, int32_t* labels, int64_t ni, int64_t nj, int64_t nk, int connectivity = 26);

}  // namespace liverseg
