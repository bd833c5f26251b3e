// The CPU kernel templates. Included once per instruction set with LAB_FLASH2_ISA naming the
// namespace (isa_default, isa_avx2); the including file's compile options pick the vector width.
#include "flash2_cpu_kernels.hpp"
#include "flash2_dropout.hpp"

#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#ifndef LAB_FLASH2_ISA
#error "define LAB_FLASH2_ISA before including flash2_cpu_isa.hpp"
#endif

namespace lab::flash2::LAB_FLASH2_ISA {

namespace {

using at::vec::Vectorized;

template <typename scalar_t>
scalar_t dot(const scalar_t* a, const scalar_t* b, int64_t n) {
  using V = Vectorized<scalar_t>;
  int64_t i = 0;
  scalar_t sum = 0;
  if (n >= V::size()) {
    V acc(scalar_t(0));
    for (; i + V::size() <= n; i += V::size()) acc = at::vec::fmadd(V::loadu(a + i), V::loadu(b + i), acc);
    scalar_t lanes[V::size()];
    acc.store(lanes);
    for (int64_t l = 0; l < V::size(); ++l) sum += lanes[l];
  }
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// y += alpha * x
template <typename scalar_t>
void axpy(scalar_t alpha, const scalar_t* x, scalar_t* y, int64_t n) {
  using V = Vectorized<scalar_t>;
  const V va(alpha);
  int64_t i = 0;
  for (; i + V::size() <= n; i += V::size())
    at::vec::fmadd(va, V::loadu(x + i), V::loadu(y + i)).store(y + i);
  for (; i < n; ++i) y[i] += alpha * x[i];
}

template <typename scalar_t>
void scale_row(scalar_t alpha, scalar_t* y, int64_t n) {
  using V = Vectorized<scalar_t>;
  const V va(alpha);
  int64_t i = 0;
  for (; i + V::size() <= n; i += V::size()) (V::loadu(y + i) * va).store(y + i);
  for (; i < n; ++i) y[i] *= alpha;
}

#if defined(__AVX2__) && defined(__FMA__)
// fp32 with AVX2 + FMA intrinsics: overloads preferred to the templates above for float.
float dot(const float* a, const float* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  acc0 = _mm256_add_ps(acc0, acc1);
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc0), _mm256_extractf128_ps(acc0, 1));
  s = _mm_hadd_ps(s, s);
  s = _mm_hadd_ps(s, s);
  float sum = _mm_cvtss_f32(s);
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void axpy(float alpha, const float* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(alpha);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += alpha * x[i];
}

void scale_row(float alpha, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(alpha);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(va, _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] *= alpha;
}
#endif

int64_t blocks(int64_t n, int64_t block) { return (n + block - 1) / block; }

template <typename scalar_t>
void forward_impl(const scalar_t* q, const scalar_t* k, const scalar_t* v, scalar_t* o, scalar_t* lse,
                  const Shape& s, const Params& p) {
  const int64_t nqb = blocks(s.tq, p.block_q);
  const scalar_t scale = static_cast<scalar_t>(p.scale);
  const scalar_t inf = std::numeric_limits<scalar_t>::infinity();
  const scalar_t keep_scale = static_cast<scalar_t>(1.0 / (1.0 - p.dropout));
  const bool dropout = p.dropout > 0;
  at::parallel_for(0, s.bh * nqb, 1, [&](int64_t begin, int64_t end) {
    std::vector<scalar_t> scores(p.block_k), m(p.block_q), l(p.block_q), acc(p.block_q * s.dv);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t bh = task / nqb, i0 = (task % nqb) * p.block_q, i1 = std::min(s.tq, i0 + p.block_q);
      std::fill(m.begin(), m.end(), -inf);
      std::fill(l.begin(), l.end(), scalar_t(0));
      std::fill(acc.begin(), acc.end(), scalar_t(0));
      // Key tiles past the last row's horizon are fully masked: causal block skipping.
      const int64_t kv_end = s.key_end(i1 - 1, p.causal);
      for (int64_t j0 = 0; j0 < kv_end; j0 += p.block_k) {
        const int64_t j1 = std::min(kv_end, j0 + p.block_k);
        for (int64_t i = i0; i < i1; ++i) {
          const int64_t r = i - i0;
          const int64_t cols = std::min(j1, s.key_end(i, p.causal)) - j0;  // diagonal tiles mask a tail
          if (cols <= 0) continue;
          const scalar_t* qrow = q + (bh * s.tq + i) * s.dk;
          scalar_t row_max = m[r];
          for (int64_t c = 0; c < cols; ++c) {
            scores[c] = dot(qrow, k + (bh * s.tk + j0 + c) * s.dk, s.dk) * scale;
            row_max = std::max(row_max, scores[c]);
          }
          // row_max is finite here (cols > 0), so exp never sees -inf - -inf.
          const scalar_t alpha = std::exp(m[r] - row_max);
          scalar_t* arow = acc.data() + r * s.dv;
          if (alpha != scalar_t(1)) scale_row(alpha, arow, s.dv);
          scalar_t row_sum = 0;
          for (int64_t c = 0; c < cols; ++c) {
            scalar_t pc = std::exp(scores[c] - row_max);
            row_sum += pc;  // the normaliser counts dropped probabilities too
            if (dropout) {
              if (!dropout_keep(p.seed, bh, i, j0 + c, s.tk, p.dropout)) continue;
              pc *= keep_scale;
            }
            axpy(pc, v + (bh * s.tk + j0 + c) * s.dv, arow, s.dv);
          }
          l[r] = alpha * l[r] + row_sum;
          m[r] = row_max;
        }
      }
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t r = i - i0;
        scalar_t* orow = o + (bh * s.tq + i) * s.dv;
        if (l[r] == scalar_t(0)) {  // no visible key: O = 0, LSE = +inf so the backward's P is 0
          std::fill(orow, orow + s.dv, scalar_t(0));
          lse[bh * s.tq + i] = inf;
          continue;
        }
        const scalar_t inv = scalar_t(1) / l[r];
        for (int64_t d = 0; d < s.dv; ++d) orow[d] = acc[r * s.dv + d] * inv;
        lse[bh * s.tq + i] = m[r] + std::log(l[r]);
      }
    }
  });
}

// Probability and score gradient of one (row, key) pair: P recomputed from the LSE, then
// dS = P ∘ (dP·Z/(1-p) − D) with Z the regenerated dropout mask.
template <typename scalar_t>
struct PairGrad {
  scalar_t p_dropped, ds;
};

template <typename scalar_t>
PairGrad<scalar_t> pair_grad(const BackwardIo<scalar_t>& io, const Shape& s, const Params& prm, int64_t bh,
                             int64_t i, int64_t j, const scalar_t* qrow, const scalar_t* dorow,
                             scalar_t row_lse, scalar_t row_delta) {
  const scalar_t prob =
      std::exp(dot(qrow, io.k + (bh * s.tk + j) * s.dk, s.dk) * scalar_t(prm.scale) - row_lse);
  scalar_t dp = dot(dorow, io.v + (bh * s.tk + j) * s.dv, s.dv);
  scalar_t p_dropped = prob;
  if (prm.dropout > 0) {
    const scalar_t keep_scale = static_cast<scalar_t>(1.0 / (1.0 - prm.dropout));
    const bool keep = dropout_keep(prm.seed, bh, i, j, s.tk, prm.dropout);
    p_dropped = keep ? prob * keep_scale : scalar_t(0);
    dp = keep ? dp * keep_scale : scalar_t(0);
  }
  return {p_dropped, prob * (dp - row_delta)};
}

// dK and dV of one key tile (and dQ of every row, when the caller owns the whole head).
template <typename scalar_t>
void key_tile_backward(const BackwardIo<scalar_t>& io, const Shape& s, const Params& prm, int64_t bh,
                       int64_t j0, bool with_dq, std::vector<scalar_t>& dk_tile,
                       std::vector<scalar_t>& dv_tile) {
  const int64_t j1 = std::min(s.tk, j0 + prm.block_k);
  const scalar_t scale = static_cast<scalar_t>(prm.scale);
  std::fill(dk_tile.begin(), dk_tile.end(), scalar_t(0));
  std::fill(dv_tile.begin(), dv_tile.end(), scalar_t(0));
  // Rows before the first one that sees key j0 contribute nothing.
  const int64_t i_start = prm.causal ? std::clamp<int64_t>(j0 - s.offset, 0, s.tq) : 0;
  for (int64_t i = i_start; i < s.tq; ++i) {
    const scalar_t row_lse = io.lse[bh * s.tq + i];
    if (std::isinf(row_lse)) continue;
    const int64_t cols = std::min(j1, s.key_end(i, prm.causal)) - j0;
    const scalar_t* qrow = io.q + (bh * s.tq + i) * s.dk;
    const scalar_t* dorow = io.dout + (bh * s.tq + i) * s.dv;
    const scalar_t row_delta = io.delta[bh * s.tq + i];
    scalar_t* dqrow = io.dq + (bh * s.tq + i) * s.dk;
    for (int64_t c = 0; c < cols; ++c) {
      const auto g = pair_grad(io, s, prm, bh, i, j0 + c, qrow, dorow, row_lse, row_delta);
      axpy(g.p_dropped, dorow, dv_tile.data() + c * s.dv, s.dv);
      axpy(scale * g.ds, qrow, dk_tile.data() + c * s.dk, s.dk);
      if (with_dq) axpy(scale * g.ds, io.k + (bh * s.tk + j0 + c) * s.dk, dqrow, s.dk);
    }
  }
  std::copy(dk_tile.begin(), dk_tile.begin() + (j1 - j0) * s.dk, io.dk + (bh * s.tk + j0) * s.dk);
  std::copy(dv_tile.begin(), dv_tile.begin() + (j1 - j0) * s.dv, io.dv + (bh * s.tk + j0) * s.dv);
}

// dQ of one query block, recomputing P and dS tile by tile.
template <typename scalar_t>
void query_block_dq(const BackwardIo<scalar_t>& io, const Shape& s, const Params& prm, int64_t bh,
                    int64_t i0) {
  const int64_t i1 = std::min(s.tq, i0 + prm.block_q);
  const scalar_t scale = static_cast<scalar_t>(prm.scale);
  const int64_t kv_end = s.key_end(i1 - 1, prm.causal);
  for (int64_t j0 = 0; j0 < kv_end; j0 += prm.block_k) {
    const int64_t j1 = std::min(kv_end, j0 + prm.block_k);
    for (int64_t i = i0; i < i1; ++i) {
      const scalar_t row_lse = io.lse[bh * s.tq + i];
      if (std::isinf(row_lse)) continue;
      const int64_t cols = std::min(j1, s.key_end(i, prm.causal)) - j0;
      const scalar_t* qrow = io.q + (bh * s.tq + i) * s.dk;
      const scalar_t* dorow = io.dout + (bh * s.tq + i) * s.dv;
      scalar_t* dqrow = io.dq + (bh * s.tq + i) * s.dk;
      for (int64_t c = 0; c < cols; ++c) {
        const auto g = pair_grad(io, s, prm, bh, i, j0 + c, qrow, dorow, row_lse, io.delta[bh * s.tq + i]);
        axpy(scale * g.ds, io.k + (bh * s.tk + j0 + c) * s.dk, dqrow, s.dk);
      }
    }
  }
}

template <typename scalar_t>
void backward_impl(const BackwardIo<scalar_t>& io, const Shape& s, const Params& prm) {
  const int64_t nkb = blocks(s.tk, prm.block_k), nqb = blocks(s.tq, prm.block_q);
  bool per_head = prm.backward == Params::Backward::PerHead;
  if (prm.backward == Params::Backward::Auto) per_head = s.bh >= 2 * at::get_num_threads();
  if (per_head) {
    at::parallel_for(0, s.bh, 1, [&](int64_t begin, int64_t end) {
      std::vector<scalar_t> dk_tile(prm.block_k * s.dk), dv_tile(prm.block_k * s.dv);
      for (int64_t bh = begin; bh < end; ++bh)
        for (int64_t j = 0; j < nkb; ++j)
          key_tile_backward(io, s, prm, bh, j * prm.block_k, true, dk_tile, dv_tile);
    });
    return;
  }
  at::parallel_for(0, s.bh * nkb, 1, [&](int64_t begin, int64_t end) {
    std::vector<scalar_t> dk_tile(prm.block_k * s.dk), dv_tile(prm.block_k * s.dv);
    for (int64_t t = begin; t < end; ++t)
      key_tile_backward(io, s, prm, t / nkb, (t % nkb) * prm.block_k, false, dk_tile, dv_tile);
  });
  at::parallel_for(0, s.bh * nqb, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) query_block_dq(io, s, prm, t / nqb, (t % nqb) * prm.block_q);
  });
}

}  // namespace

void forward(const float* q, const float* k, const float* v, float* o, float* lse, const Shape& s,
             const Params& p) {
  forward_impl(q, k, v, o, lse, s, p);
}
void forward(const double* q, const double* k, const double* v, double* o, double* lse, const Shape& s,
             const Params& p) {
  forward_impl(q, k, v, o, lse, s, p);
}
void backward(const BackwardIo<float>& io, const Shape& s, const Params& p) { backward_impl(io, s, p); }
void backward(const BackwardIo<double>& io, const Shape& s, const Params& p) { backward_impl(io, s, p); }

}  // namespace lab::flash2::LAB_FLASH2_ISA
