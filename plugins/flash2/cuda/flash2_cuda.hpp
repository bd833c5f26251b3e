// LibTorch side of the CUDA kernels: allocates outputs, checks sizes, launches on the current stream.
// Built only when LibTorch has CUDA (LAB_FLASH2_CUDA).
#pragma once

#include "../flash2_cpu.hpp"

namespace lab::flash2 {

// q, k, v contiguous fp16 or bf16 CUDA tensors; Params::block_* and backward are ignored (64 x 64 tiles).
ForwardResult cuda_forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                           const Params& p);
Gradients cuda_backward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& out, const torch::Tensor& lse, const torch::Tensor& dout,
                        const Params& p);

}  // namespace lab::flash2
