// FlashAttention-2 on the CPU: tiled online-softmax forward and recomputing backward (spec §5).
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace lab::flash2 {

struct Params {
  double scale = 1.0;
  bool causal = true;
  double dropout = 0.0;  // drop probability; 0 disables dropout
  uint64_t seed = 0;     // dropout mask seed, shared by forward and backward
  int64_t block_q = 64;  // query rows per forward task
  int64_t block_k = 64;  // key columns per tile (forward) and per backward task
  // Backward schedule: one task per (batch, head) accumulating dQ in place, or one task per key
  // block for dK/dV plus a second pass per query block for dQ (more parallelism, recomputes P).
  enum class Backward { Auto, PerHead, Split } backward = Backward::Auto;
  bool baseline_isa = false;  // CPU: skip the AVX2 kernels even where they would run
};

struct ForwardResult {
  torch::Tensor out;  // [B, H, T, Dv]
  torch::Tensor lse;  // [B, H, T], +inf for rows that see no key
};

struct Gradients {
  torch::Tensor dq, dk, dv;
};

// q [B,H,T,Dqk], k [B,H,S,Dqk], v [B,H,S,Dv], contiguous float or double on the CPU.
ForwardResult cpu_forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                          const Params& p);

// dout [B,H,T,Dv]; out and lse from cpu_forward with the same Params.
Gradients cpu_backward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                       const torch::Tensor& out, const torch::Tensor& lse, const torch::Tensor& dout,
                       const Params& p);

}  // namespace lab::flash2
