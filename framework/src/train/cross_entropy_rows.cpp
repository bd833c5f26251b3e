#include "train/cross_entropy_rows.hpp"

#include <lab/simd_exp.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace lab {

namespace {

float logsumexp_scalar(const float* x, int64_t n) {
  float top = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) top = std::max(top, x[i]);
  if (std::isinf(top)) return top;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(x[i] - top);
  return top + static_cast<float>(std::log(sum));
}

void scaled_softmax_scalar(float* x, int64_t n, float lse, float scale) {
  for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i] - lse) * scale;
}

#ifdef LAB_HAVE_SIMD_EXP
LAB_TARGET_AVX2 float logsumexp_avx2(const float* x, int64_t n) {
  const float top = simd::row_max(x, n, -std::numeric_limits<float>::infinity());
  if (std::isinf(top)) return top;
  const __m256 shift = _mm256_set1_ps(top);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_add_ps(acc0, simd::exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), shift)));
    acc1 = _mm256_add_ps(acc1, simd::exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), shift)));
  }
  for (; i + 8 <= n; i += 8)
    acc0 = _mm256_add_ps(acc0, simd::exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), shift)));
  double sum = simd::horizontal_sum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) sum += std::exp(x[i] - top);
  return top + static_cast<float>(std::log(sum));
}

LAB_TARGET_AVX2 void scaled_softmax_avx2(float* x, int64_t n, float lse, float scale) {
  const __m256 shift = _mm256_set1_ps(lse), factor = _mm256_set1_ps(scale);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(x + i, _mm256_mul_ps(simd::exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), shift)), factor));
  for (; i < n; ++i) x[i] = std::exp(x[i] - lse) * scale;
}
#endif

}  // namespace

float row_logsumexp(const float* x, int64_t n) {
#ifdef LAB_HAVE_SIMD_EXP
  if (simd::has_avx2()) return logsumexp_avx2(x, n);
#endif
  return logsumexp_scalar(x, n);
}

void row_scaled_softmax(float* x, int64_t n, float lse, float scale) {
#ifdef LAB_HAVE_SIMD_EXP
  if (simd::has_avx2()) return scaled_softmax_avx2(x, n, lse, scale);
#endif
  scaled_softmax_scalar(x, n, lse, scale);
}

}  // namespace lab
