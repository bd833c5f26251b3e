// The CPU kernels' entry points, compiled once per instruction set (flash2_cpu_isa.hpp) and chosen
// at run time by flash2_cpu.cpp.
#pragma once

#include "flash2_cpu.hpp"

#include <torch/types.h>

#include <algorithm>
#include <cstdint>

namespace lab::flash2 {

// Sizes shared by forward and backward. Key j is visible to query i iff j <= i + offset (bottom-right).
struct Shape {
  int64_t bh, tq, tk, dk, dv, offset;
  Shape(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v)
      : bh(q.size(0) * q.size(1)),
        tq(q.size(2)),
        tk(k.size(2)),
        dk(q.size(3)),
        dv(v.size(3)),
        offset(k.size(2) - q.size(2)) {}
  // One past the last key query row i may see.
  int64_t key_end(int64_t i, bool causal) const {
    return causal ? std::clamp<int64_t>(i + offset + 1, 0, tk) : tk;
  }
};

template <typename scalar_t>
struct BackwardIo {
  const scalar_t *q, *k, *v, *lse, *dout, *delta;  // delta = rowsum(dO ∘ O)
  scalar_t *dq, *dk, *dv;
};

// One set of entry points per instruction set, each defined by flash2_cpu_<isa>.cpp.
namespace isa_default {
void forward(const float* q, const float* k, const float* v, float* o, float* lse, const Shape& s,
             const Params& p);
void forward(const double* q, const double* k, const double* v, double* o, double* lse, const Shape& s,
             const Params& p);
void backward(const BackwardIo<float>& io, const Shape& s, const Params& p);
void backward(const BackwardIo<double>& io, const Shape& s, const Params& p);
}  // namespace isa_default

namespace isa_avx2 {
void forward(const float* q, const float* k, const float* v, float* o, float* lse, const Shape& s,
             const Params& p);
void forward(const double* q, const double* k, const double* v, double* o, double* lse, const Shape& s,
             const Params& p);
void backward(const BackwardIo<float>& io, const Shape& s, const Params& p);
void backward(const BackwardIo<double>& io, const Shape& s, const Params& p);
}  // namespace isa_avx2

}  // namespace lab::flash2
