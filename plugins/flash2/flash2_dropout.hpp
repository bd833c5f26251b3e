// Attention-probability dropout without a stored mask: whether element (row, column) of head `bh`
// is kept is a hash of (seed, bh, row, column), so the backward regenerates exactly the forward's mask.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define LAB_FLASH2_HD __host__ __device__ __forceinline__
#else
#define LAB_FLASH2_HD inline
#endif

namespace lab::flash2 {

// splitmix64 finaliser: a cheap bijective mixer with good avalanche.
LAB_FLASH2_HD uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// True when the probability at (bh, row, column) survives dropout with drop probability p.
LAB_FLASH2_HD bool dropout_keep(uint64_t seed, int64_t bh, int64_t row, int64_t column, int64_t keys,
                                double p) {
  const uint64_t index = (static_cast<uint64_t>(bh) * 0x100000001b3ULL + static_cast<uint64_t>(row)) *
                             static_cast<uint64_t>(keys) +
                         static_cast<uint64_t>(column);
  const uint64_t bits = mix64(seed ^ mix64(index));
  // The top 53 bits as a uniform double in [0, 1).
  const double u = static_cast<double>(bits >> 11) * (1.0 / 9007199254740992.0);
  return u >= p;
}

}  // namespace lab::flash2
