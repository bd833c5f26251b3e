// Small vector loops shared by the dsa CPU kernels, and the attribute that builds a function for several
// instruction sets (chosen by CPU feature at load time), so one binary is fast on AVX-512 and AVX2
// machines and still runs on any x86-64. The helpers are always inlined into such functions.
#pragma once

#include <cstdint>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define DSA_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#define DSA_INLINE __attribute__((always_inline)) inline
#else
#define DSA_CLONES
#define DSA_INLINE inline
#endif

namespace dsa {

// Sixteen independent partial sums let the compiler vectorise without reordering a single sum.
template <typename T>
DSA_INLINE T dot(const T* __restrict a, const T* __restrict b, int64_t n) {
  T acc[16] = {};
  int64_t d = 0;
  for (; d + 16 <= n; d += 16)
    for (int i = 0; i < 16; ++i) acc[i] += a[d + i] * b[d + i];
  T sum = 0;
  for (int i = 0; i < 16; ++i) sum += acc[i];
  for (; d < n; ++d) sum += a[d] * b[d];
  return sum;
}

// y += alpha * x
template <typename T>
DSA_INLINE void axpy(T* __restrict y, T alpha, const T* __restrict x, int64_t n) {
  for (int64_t d = 0; d < n; ++d) y[d] += alpha * x[d];
}

}  // namespace dsa
