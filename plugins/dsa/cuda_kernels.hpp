// CUDA version of the fused sparse attention (same contract as cpu_kernels.hpp).
#pragma once

#include <torch/types.h>

namespace dsa::cuda {

void forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, const torch::Tensor& idx,
             double scale, torch::Tensor& out, torch::Tensor& probs);

void backward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
              const torch::Tensor& idx, const torch::Tensor& probs, const torch::Tensor& grad_out,
              double scale, torch::Tensor& grad_q, torch::Tensor& grad_k, torch::Tensor& grad_v);

}  // namespace dsa::cuda
