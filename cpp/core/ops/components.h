// Connected components of a binary mask, on runs of voxels rather than voxels: a liver mask of a
// 512x512x500 CT has a few hundred thousand runs, so the union-find stays small and fast.
#pragma once
#include <cstdint>
#include <vector>

namespace liverseg {

struct ComponentStats {
  int64_t components = 0;    // components of all values together
  int64_t kept_voxels = 0;   // voxels left non-zero
  int64_t total_voxels = 0;  // non-zero voxels before
};

// MONAI's KeepLargestConnectedComponent (independent=True, num_components=1), in place on a mask
// in [nk][nj][ni] order (i fastest): each non-zero value keeps its own largest component (26-, 18-
// or 6-connected, between voxels of that value) and keeps its value; the rest becomes 0. On a tie
// the component kept is the one MONAI keeps: the one met last in a C-order scan of MONAI's
// [i, j, k] array (k fastest), i.e. the tied component with the highest skimage label.
ComponentStats keep_largest_component(uint8_t* mask, int64_t ni, int64_t nj, int64_t nk, int connectivity = 26);

// Labels every component of the non-zero voxels (any values together; 1..n by decreasing size)
// into labels; returns their sizes.
std::vector<int64_t> label_components(const uint8_t* mask, int32_t* labels, int64_t ni, int64_t nj, int64_t nk, int connectivity = 26);

}  // namespace liverseg
