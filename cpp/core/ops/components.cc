#include "components.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <numeric>

#include "../errors.h"

namespace liverseg {

namespace {

struct Run {
  int32_t start, end;  // [start, end) along i
  int64_t row;         // k * nj + j
  uint8_t value;       // the voxels' value (1 for every run when values are not told apart)
};

struct Runs {
  std::vector<Run> runs;
  std::vector<int64_t> row_first;  // runs of row r are [row_first[r], row_first[r + 1])
};

// Runs of voxels along i. by_value: a run holds one non-zero value (a change of value ends it);
// otherwise a run is any stretch of non-zero voxels, and its value is 1.
Runs find_runs(const uint8_t* mask, int64_t ni, int64_t nj, int64_t nk, bool by_value) {
  Runs r;
  const int64_t rows = nj * nk;
  r.row_first.resize(static_cast<size_t>(rows + 1));
  for (int64_t row = 0; row < rows; ++row) {
    r.row_first[static_cast<size_t>(row)] = static_cast<int64_t>(r.runs.size());
    const uint8_t* p = mask + row * ni;
    int64_t i = 0;
    while (i < ni) {
      while (i < ni && p[i] == 0) ++i;
      if (i == ni) break;
      const int64_t s = i;
      const uint8_t v = p[i];
      if (by_value) {
        while (i < ni && p[i] == v) ++i;
      } else {
        while (i < ni && p[i] != 0) ++i;
      }
      r.runs.push_back({static_cast<int32_t>(s), static_cast<int32_t>(i), row, by_value ? v : uint8_t(1)});
    }
  }
  r.row_first[static_cast<size_t>(rows)] = static_cast<int64_t>(r.runs.size());
  return r;
}

int64_t find(std::vector<int64_t>& parent, int64_t x) {
  while (parent[static_cast<size_t>(x)] != x) {
    parent[static_cast<size_t>(x)] = parent[static_cast<size_t>(parent[static_cast<size_t>(x)])];
    x = parent[static_cast<size_t>(x)];
  }
  return x;
}

// Unions the runs of row a with those of row b that touch them and hold the same value; `diagonal`
// lets runs that only meet corner to corner along i count as touching.
void join_rows(const Runs& r, std::vector<int64_t>& parent, int64_t row_a, int64_t row_b, bool diagonal) {
  const int64_t ea = r.row_first[static_cast<size_t>(row_a + 1)];
  int64_t ib = r.row_first[static_cast<size_t>(row_b)];
  const int64_t eb = r.row_first[static_cast<size_t>(row_b + 1)];
  const int32_t reach = diagonal ? 1 : 0;
  // Runs of different values may sit end to end in a row, so one run of row b can touch several
  // runs of row a (and the other way round): for each run of a, walk the runs of b that reach it.
  for (int64_t ia = r.row_first[static_cast<size_t>(row_a)]; ia < ea; ++ia) {
    const Run& a = r.runs[static_cast<size_t>(ia)];
    while (ib < eb && r.runs[static_cast<size_t>(ib)].end + reach <= a.start) ++ib;  // left of a, and of every later run of a
    for (int64_t jb = ib; jb < eb && r.runs[static_cast<size_t>(jb)].start < a.end + reach; ++jb) {
      if (r.runs[static_cast<size_t>(jb)].value != a.value) continue;
      const int64_t ra = find(parent, ia), rb = find(parent, jb);
      if (ra != rb) parent[static_cast<size_t>(std::max(ra, rb))] = std::min(ra, rb);
    }
  }
}

std::vector<int64_t> union_runs(const Runs& r, int64_t nj, int64_t nk, int connectivity) {
  require(connectivity == 6 || connectivity == 18 || connectivity == 26, "Invalid argument 'connectivity': expected 6, 18 or 26");
  std::vector<int64_t> parent(r.runs.size());
  std::iota(parent.begin(), parent.end(), 0);
  for (int64_t k = 0; k < nk; ++k) {
    for (int64_t j = 0; j < nj; ++j) {
      const int64_t row = k * nj + j;
      if (r.row_first[static_cast<size_t>(row)] == r.row_first[static_cast<size_t>(row + 1)]) continue;
      // Earlier neighbours only: (j-1, k) and the three rows of the previous slice.
      for (int64_t dk = -1; dk <= 0; ++dk) {
        for (int64_t dj = -1; dj <= 1; ++dj) {
          if (dk == 0 && dj >= 0) continue;
          const int64_t kk = k + dk, jj = j + dj;
          if (kk < 0 || jj < 0 || jj >= nj) continue;
          const int offsets = (dk != 0) + (dj != 0);  // neighbour rows differing in 1 or 2 of (j, k)
          if (connectivity == 6 && offsets == 2) continue;
          // i-diagonal contact adds one more differing axis: allowed when the total stays within reach.
          const bool diagonal = connectivity == 26 || (connectivity == 18 && offsets == 1);
          join_rows(r, parent, row, kk * nj + jj, diagonal);
        }
      }
    }
  }
  return parent;
}

}  // namespace

std::vector<int64_t> label_components(const uint8_t* mask, int32_t* labels, int64_t ni, int64_t nj, int64_t nk, int connectivity) {
  Runs r = find_runs(mask, ni, nj, nk, /*by_value=*/false);
  std::vector<int64_t> parent = union_runs(r, nj, nk, connectivity);
  std::vector<int64_t> size(r.runs.size(), 0);
  for (size_t i = 0; i < r.runs.size(); ++i) size[static_cast<size_t>(find(parent, static_cast<int64_t>(i)))] += r.runs[i].end - r.runs[i].start;
  std::vector<int64_t> roots;
  for (size_t i = 0; i < r.runs.size(); ++i) {
    if (parent[i] == static_cast<int64_t>(i)) roots.push_back(static_cast<int64_t>(i));
  }
  std::stable_sort(roots.begin(), roots.end(), [&](int64_t a, int64_t b) { return size[static_cast<size_t>(a)] > size[static_cast<size_t>(b)]; });
  std::vector<int32_t> id(r.runs.size(), 0);
  std::vector<int64_t> sizes;
  for (size_t n = 0; n < roots.size(); ++n) {
    id[static_cast<size_t>(roots[n])] = static_cast<int32_t>(n + 1);
    sizes.push_back(size[static_cast<size_t>(roots[n])]);
  }
  std::fill(labels, labels + ni * nj * nk, 0);
  for (size_t i = 0; i < r.runs.size(); ++i) {
    const Run& run = r.runs[i];
    std::fill(labels + run.row * ni + run.start, labels + run.row * ni + run.end, id[static_cast<size_t>(find(parent, static_cast<int64_t>(i)))]);
  }
  return sizes;
}

ComponentStats keep_largest_component(uint8_t* mask, int64_t ni, int64_t nj, int64_t nk, int connectivity) {
  Runs r = find_runs(mask, ni, nj, nk, /*by_value=*/true);
  std::vector<int64_t> parent = union_runs(r, nj, nk, connectivity);
  ComponentStats stats;
  const size_t n = r.runs.size();
  // Per component (indexed by its root run): voxel count, and where MONAI's scan meets it first.
  // MONAI labels the array [C, i, j, k] (skimage/scipy label, C order: k fastest, i slowest);
  // labels follow the first voxel of each component in that scan, so the component's rank in it
  // is the smallest (i * nj + j) * nk + k over its voxels: (start * nj + j) * nk + k over its runs.
  std::vector<int64_t> size(n, 0), first(n, INT64_MAX);
  for (size_t i = 0; i < n; ++i) {
    const Run& run = r.runs[i];
    const size_t root = static_cast<size_t>(find(parent, static_cast<int64_t>(i)));
    size[root] += run.end - run.start;
    const int64_t j = run.row % nj, k = run.row / nj;
    first[root] = std::min(first[root], (static_cast<int64_t>(run.start) * nj + j) * nk + k);
    stats.total_voxels += run.end - run.start;
    if (root == i) ++stats.components;
  }
  // MONAI's KeepLargestConnectedComponent(independent=True, num_components=1): each non-zero value
  // on its own keeps its largest component (values stay as they are). MONAI picks it as
  // argsort(bincount(labels))[::-1][0]: on a tie, numpy's sort leaves equal counts in label order
  // (NumPy 1.26 and 2.x, for the few-component ties we check; argsort is not stable in general), so
  // the reversal keeps the LAST tied label, the component met last in MONAI's scan.
  std::array<int64_t, 256> best;
  best.fill(-1);
  for (size_t i = 0; i < n; ++i) {
    if (parent[i] != static_cast<int64_t>(i)) continue;
    const uint8_t v = r.runs[i].value;
    const int64_t b = best[v];
    if (b < 0 || size[i] > size[static_cast<size_t>(b)] || (size[i] == size[static_cast<size_t>(b)] && first[i] > first[static_cast<size_t>(b)])) {
      best[v] = static_cast<int64_t>(i);
    }
  }
  for (int v = 1; v < 256; ++v) {
    if (best[static_cast<size_t>(v)] >= 0) stats.kept_voxels += size[static_cast<size_t>(best[static_cast<size_t>(v)])];
  }
  for (size_t i = 0; i < n; ++i) {
    const Run& run = r.runs[i];
    if (find(parent, static_cast<int64_t>(i)) == best[run.value]) continue;
    std::fill(mask + run.row * ni + run.start, mask + run.row * ni + run.end, uint8_t(0));
  }
  return stats;
}

}  // namespace liverseg
