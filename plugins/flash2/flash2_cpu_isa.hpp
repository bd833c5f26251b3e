// The CPU kernels. Included once per instruction set with LAB_FLASH2_ISA naming the namespace
// (isa_default, isa_avx2); the including file's compile options pick the vector width.
//
// Every tile product (Q·Kᵀ, P·V and the backward's five) goes through gemm (BLAS); only the
// softmax bookkeeping runs here, row by row on the tile, with a vectorised exp on AVX2.
#include "flash2_cpu_kernels.hpp"
#include "flash2_dropout.hpp"
#include "flash2_gemm.hpp"

#include <ATen/Parallel.h>

#include <lab/simd_exp.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#ifndef LAB_FLASH2_ISA
#error "define LAB_FLASH2_ISA before including flash2_cpu_isa.hpp"
#endif

namespace lab::flash2::LAB_FLASH2_ISA {

namespace {

// Row helpers, scalar for any type; the AVX2 build overloads the float ones below.
template <typename T>
T row_max(const T* x, int64_t n, T init) {
  for (int64_t i = 0; i < n; ++i) init = std::max(init, x[i]);
  return init;
}

// x = exp(x - shift); returns the sum of the new values.
template <typename T>
T exp_shifted(T* x, int64_t n, T shift) {
  T sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += (x[i] = std::exp(x[i] - shift));
  return sum;
}

template <typename T>
void scale_row(T alpha, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= alpha;
}

// ds = p * (dp - delta), in place over dp.
template <typename T>
void softmax_grad(const T* p, T* dp, T delta, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dp[i] = p[i] * (dp[i] - delta);
}

#if defined(__AVX2__) && defined(__FMA__)
// fp32 overloads, preferred to the templates above.
using lab::simd::exp_shifted;
using lab::simd::row_max;
using lab::simd::scale_row;

void softmax_grad(const float* p, float* dp, float delta, int64_t n) {
  const __m256 d = _mm256_set1_ps(delta);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dp + i,
                     _mm256_mul_ps(_mm256_loadu_ps(p + i), _mm256_sub_ps(_mm256_loadu_ps(dp + i), d)));
  for (; i < n; ++i) dp[i] = p[i] * (dp[i] - delta);
}
#endif

int64_t blocks(int64_t n, int64_t block) { return (n + block - 1) / block; }

// Columns [0, valid) of a tile row starting at key j0 are visible to query i; the rest are masked.
int64_t visible(const Shape& s, bool causal, int64_t i, int64_t j0, int64_t j1) {
  return std::max<int64_t>(0, std::min(j1, s.key_end(i, causal)) - j0);
}

template <typename scalar_t>
void forward_impl(const scalar_t* q, const scalar_t* k, const scalar_t* v, scalar_t* o, scalar_t* lse,
                  const Shape& s, const Params& p) {
  const int64_t nqb = blocks(s.tq, p.block_q);
  const scalar_t scale = static_cast<scalar_t>(p.scale);
  const scalar_t inf = std::numeric_limits<scalar_t>::infinity();
  const scalar_t keep_scale = static_cast<scalar_t>(1.0 / (1.0 - p.dropout));
  at::parallel_for(0, s.bh * nqb, 1, [&](int64_t begin, int64_t end) {
    std::vector<scalar_t> probs(p.block_q * p.block_k), m(p.block_q), l(p.block_q), acc(p.block_q * s.dv);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t bh = task / nqb, i0 = (task % nqb) * p.block_q, i1 = std::min(s.tq, i0 + p.block_q);
      const int64_t rows = i1 - i0;
      const scalar_t* qb = q + (bh * s.tq + i0) * s.dk;
      std::fill(m.begin(), m.end(), -inf);
      std::fill(l.begin(), l.end(), scalar_t(0));
      std::fill(acc.begin(), acc.end(), scalar_t(0));
      // Key tiles past the last row's horizon are fully masked: causal block skipping.
      const int64_t kv_end = s.key_end(i1 - 1, p.causal);
      for (int64_t j0 = 0; j0 < kv_end; j0 += p.block_k) {
        const int64_t j1 = std::min(kv_end, j0 + p.block_k), cols = j1 - j0;
        gemm(!p.baseline_isa, false, true, rows, cols, s.dk, scale, qb, s.dk, k + (bh * s.tk + j0) * s.dk,
             s.dk, scalar_t(0), probs.data(), cols);
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t i = i0 + r, valid = visible(s, p.causal, i, j0, j1);
          scalar_t* prow = probs.data() + r * cols;
          std::fill(prow + valid, prow + cols, scalar_t(0));  // masked columns add nothing to P·V
          if (valid == 0) continue;
          const scalar_t row_max_new = row_max(prow, valid, m[r]);
          // row_max_new is finite here (valid > 0), so exp never sees -inf - -inf.
          const scalar_t alpha = std::exp(m[r] - row_max_new);
          if (alpha != scalar_t(1)) scale_row(alpha, acc.data() + r * s.dv, s.dv);
          // The normaliser counts dropped probabilities too.
          l[r] = alpha * l[r] + exp_shifted(prow, valid, row_max_new);
          m[r] = row_max_new;
          if (p.dropout > 0)
            for (int64_t c = 0; c < valid; ++c)
              prow[c] =
                  dropout_keep(p.seed, bh, i, j0 + c, s.tk, p.dropout) ? prow[c] * keep_scale : scalar_t(0);
        }
        gemm(!p.baseline_isa, false, false, rows, s.dv, cols, scalar_t(1), probs.data(), cols,
             v + (bh * s.tk + j0) * s.dv, s.dv, scalar_t(1), acc.data(), s.dv);
      }
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t i = i0 + r;
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

// Per-thread tile buffers of the backward.
template <typename scalar_t>
struct Scratch {
  std::vector<scalar_t> probs, probs_dropped, ds, dk, dv;
  Scratch(const Shape& s, const Params& p)
      : probs(p.block_q * p.block_k),
        probs_dropped(p.dropout > 0 ? p.block_q * p.block_k : 0),
        ds(p.block_q * p.block_k),
        dk(p.block_k * s.dk),
        dv(p.block_k * s.dv) {}
  // P after dropout, as P·V used it: the same buffer as P when there is no dropout.
  scalar_t* used_probs() { return probs_dropped.empty() ? probs.data() : probs_dropped.data(); }
};

// Queries [i0, i1) against keys [j0, j1): P recomputed from the LSE into sc.probs, P with dropout
// into sc.used_probs(), and dS = P ∘ (dP·Z/(1-p) − D) into sc.ds (Z the regenerated dropout mask).
template <typename scalar_t>
void tile_gradients(const BackwardIo<scalar_t>& io, const Shape& s, const Params& prm, int64_t bh, int64_t i0,
                    int64_t i1, int64_t j0, int64_t j1, Scratch<scalar_t>& sc) {
  const int64_t rows = i1 - i0, cols = j1 - j0;
  const scalar_t scale = static_cast<scalar_t>(prm.scale);
  gemm(!prm.baseline_isa, false, true, rows, cols, s.dk, scale, io.q + (bh * s.tq + i0) * s.dk, s.dk,
       io.k + (bh * s.tk + j0) * s.dk, s.dk, scalar_t(0), sc.probs.data(), cols);
  gemm(!prm.baseline_isa, false, true, rows, cols, s.dv, scalar_t(1), io.dout + (bh * s.tq + i0) * s.dv, s.dv,
       io.v + (bh * s.tk + j0) * s.dv, s.dv, scalar_t(0), sc.ds.data(), cols);
  const scalar_t keep_scale = static_cast<scalar_t>(1.0 / (1.0 - prm.dropout));
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t i = i0 + r;
    const scalar_t row_lse = io.lse[bh * s.tq + i];
    const int64_t valid = std::isinf(row_lse) ? 0 : visible(s, prm.causal, i, j0, j1);
    scalar_t* prow = sc.probs.data() + r * cols;
    scalar_t* dsrow = sc.ds.data() + r * cols;
    exp_shifted(prow, valid, row_lse);
    std::fill(prow + valid, prow + cols, scalar_t(0));
    if (prm.dropout > 0) {
      scalar_t* pdrow = sc.probs_dropped.data() + r * cols;
      for (int64_t c = 0; c < valid; ++c) {
        const bool keep = dropout_keep(prm.seed, bh, i, j0 + c, s.tk, prm.dropout);
        pdrow[c] = keep ? prow[c] * keep_scale : scalar_t(0);
        dsrow[c] = keep ? dsrow[c] * keep_scale : scalar_t(0);
      }
      std::fill(pdrow + valid, pdrow + cols, scalar_t(0));
    }
    softmax_grad(prow, dsrow, io.delta[bh * s.tq + i], cols);  // masked columns: P = 0 gives dS = 0
  }
}

// dK and dV of one key tile (and dQ of every row, when the caller owns the whole head).
template <typename scalar_t>
void key_tile_backward(const BackwardIo<scalar_t>& io, const Shape& s, const Params& prm, int64_t bh,
                       int64_t j0, bool with_dq, Scratch<scalar_t>& sc) {
  const int64_t j1 = std::min(s.tk, j0 + prm.block_k), cols = j1 - j0;
  const scalar_t scale = static_cast<scalar_t>(prm.scale), one(1);
  const scalar_t* kt = io.k + (bh * s.tk + j0) * s.dk;
  std::fill(sc.dk.begin(), sc.dk.end(), scalar_t(0));
  std::fill(sc.dv.begin(), sc.dv.end(), scalar_t(0));
  // Rows before the first one that sees key j0 contribute nothing.
  const int64_t i_start = prm.causal ? std::clamp<int64_t>(j0 - s.offset, 0, s.tq) : 0;
  for (int64_t i0 = i_start; i0 < s.tq; i0 += prm.block_q) {
    const int64_t i1 = std::min(s.tq, i0 + prm.block_q), rows = i1 - i0;
    tile_gradients(io, s, prm, bh, i0, i1, j0, j1, sc);
    const scalar_t* qb = io.q + (bh * s.tq + i0) * s.dk;
    gemm(!prm.baseline_isa, true, false, cols, s.dv, rows, one, sc.used_probs(), cols,
         io.dout + (bh * s.tq + i0) * s.dv, s.dv, one, sc.dv.data(), s.dv);
    gemm(!prm.baseline_isa, true, false, cols, s.dk, rows, scale, sc.ds.data(), cols, qb, s.dk, one,
         sc.dk.data(), s.dk);
    if (with_dq)
      gemm(!prm.baseline_isa, false, false, rows, s.dk, cols, scale, sc.ds.data(), cols, kt, s.dk, one,
           io.dq + (bh * s.tq + i0) * s.dk, s.dk);
  }
  std::copy(sc.dk.begin(), sc.dk.begin() + cols * s.dk, io.dk + (bh * s.tk + j0) * s.dk);
  std::copy(sc.dv.begin(), sc.dv.begin() + cols * s.dv, io.dv + (bh * s.tk + j0) * s.dv);
}

// dQ of one query block, recomputing P and dS tile by tile.
template <typename scalar_t>
void query_block_dq(const BackwardIo<scalar_t>& io, const Shape& s, const Params& prm, int64_t bh, int64_t i0,
                    Scratch<scalar_t>& sc) {
  const int64_t i1 = std::min(s.tq, i0 + prm.block_q), rows = i1 - i0;
  const scalar_t scale = static_cast<scalar_t>(prm.scale);
  const int64_t kv_end = s.key_end(i1 - 1, prm.causal);
  for (int64_t j0 = 0; j0 < kv_end; j0 += prm.block_k) {
    const int64_t j1 = std::min(kv_end, j0 + prm.block_k), cols = j1 - j0;
    tile_gradients(io, s, prm, bh, i0, i1, j0, j1, sc);
    gemm(!prm.baseline_isa, false, false, rows, s.dk, cols, scale, sc.ds.data(), cols,
         io.k + (bh * s.tk + j0) * s.dk, s.dk, scalar_t(1), io.dq + (bh * s.tq + i0) * s.dk, s.dk);
  }
}

template <typename scalar_t>
void backward_impl(const BackwardIo<scalar_t>& io, const Shape& s, const Params& prm) {
  const int64_t nkb = blocks(s.tk, prm.block_k), nqb = blocks(s.tq, prm.block_q);
  bool per_head = prm.backward == Params::Backward::PerHead;
  if (prm.backward == Params::Backward::Auto) per_head = s.bh >= 2 * at::get_num_threads();
  if (per_head) {
    at::parallel_for(0, s.bh, 1, [&](int64_t begin, int64_t end) {
      Scratch<scalar_t> sc(s, prm);
      for (int64_t bh = begin; bh < end; ++bh)
        for (int64_t j = 0; j < nkb; ++j) key_tile_backward(io, s, prm, bh, j * prm.block_k, true, sc);
    });
    return;
  }
  at::parallel_for(0, s.bh * nkb, 1, [&](int64_t begin, int64_t end) {
    Scratch<scalar_t> sc(s, prm);
    for (int64_t t = begin; t < end; ++t)
      key_tile_backward(io, s, prm, t / nkb, (t % nkb) * prm.block_k, false, sc);
  });
  at::parallel_for(0, s.bh * nqb, 1, [&](int64_t begin, int64_t end) {
    Scratch<scalar_t> sc(s, prm);
    for (int64_t t = begin; t < end; ++t) query_block_dq(io, s, prm, t / nqb, (t % nqb) * prm.block_q, sc);
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
