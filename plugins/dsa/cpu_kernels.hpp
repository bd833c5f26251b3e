// Fused CPU loops of the sparse attention: one (batch, head) pair per task, selection shared by heads,
// pairs visited key block by key block so the block's keys and values stay in cache.
#pragma once

#include <torch/types.h>

namespace dsa::cpu {

// Fills out [B, H, T, Dv] and probs [B, H, T, K] (contiguous, same dtype as q).
void forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, const torch::Tensor& idx,
             double scale, torch::Tensor& out, torch::Tensor& probs);

// Gradients of q, k, v given the saved probs, the forward's output and the output gradient.
void backward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
              const torch::Tensor& idx, const torch::Tensor& probs, const torch::Tensor& out,
              const torch::Tensor& grad_out, double scale, torch::Tensor& grad_q, torch::Tensor& grad_k,
              torch::Tensor& grad_v);

}  // namespace dsa::cpu
