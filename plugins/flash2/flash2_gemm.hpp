// Row-major matrix products for the CPU kernels' tiles: C = alpha * op(A) * op(B) + beta * C.
// Through the system BLAS when the build found one (the same library LibTorch uses) and `blas` is
// set, plain loops otherwise (the portable path `cpu_isa = "baseline"` selects, and the fallback).
// Called from inside parallel regions, where OpenBLAS runs single-threaded.
#pragma once

#include <cstdint>

namespace lab::flash2 {

// op(A) is m x k, op(B) is k x n, C is m x n; lda, ldb, ldc are row strides. beta = 0 overwrites C.
void gemm(bool blas, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void gemm(bool blas, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

}  // namespace lab::flash2
