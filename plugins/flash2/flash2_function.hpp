// The flash2 attention as one autograd function: the forward saves Q, K, V, O and the LSE (never P),
// the backward recomputes P from the LSE. Runs the CPU kernel, or the CUDA one when built with CUDA.
#pragma once

#include "flash2_cpu.hpp"

#include <torch/types.h>

namespace lab::flash2 {

// q [B,H,T,Dqk], k [B,H,S,Dqk], v [B,H,S,Dv] on one device; returns [B,H,T,Dv] in q's dtype.
// Throws lab::InputError for shapes, devices or dtypes the kernel cannot take.
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        Params params);

// True when this build has the CUDA kernel.
bool has_cuda_kernel();

}  // namespace lab::flash2
