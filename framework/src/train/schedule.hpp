// Learning-rate factor: linear warm-up, then cosine decay to a floor.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace lab {

// Factor in [min_ratio, 1] for step `step` (0-based) of a stage of `total` steps.
inline double lr_factor(int64_t step, int64_t warmup, int64_t total, double min_ratio) {
  if (warmup > 0 && step < warmup) return static_cast<double>(step + 1) / static_cast<double>(warmup);
  const int64_t decay = std::max<int64_t>(total - warmup, 1);
  const double progress =
      std::clamp(static_cast<double>(step - warmup) / static_cast<double>(decay), 0.0, 1.0);
  const double pi = 3.14159265358979323846;
  return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + std::cos(pi * progress));
}

}  // namespace lab
