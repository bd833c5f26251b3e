// Attention over a per-query set of selected keys, shared by every head (DeepSeek Sparse Attention).
#pragma once

#include <torch/types.h>

namespace dsa {

// q [B, H, T, Dqk], k [B, H, S, Dqk], v [B, H, S, Dv], idx [B, T, K] int64 key positions shared by all
// heads (-1: no key). Returns out [B, H, T, Dv] = softmax over the selected keys of q·k·scale, times v,
// and probs [B, H, T, K] (0 where idx = -1, no gradient). Differentiable in q, k and v; time and memory
// grow with T·K. CPU: fused gather-and-attend kernel; CUDA: the .cu kernel when built, else gathers.
std::pair<torch::Tensor, torch::Tensor> sparse_attention(const torch::Tensor& q, const torch::Tensor& k,
                                                         const torch::Tensor& v, const torch::Tensor& idx,
                                                         double scale);

// The same attention written with gathers and ordinary ops: the oracle for tests, the fallback on
// devices without a fused kernel (it materialises [B, H, T, K, D]) and the path with attention dropout
// (`dropout` > 0: probabilities are dropped, and rescaled, before they weight v; the returned probs
// are the undropped ones).
std::pair<torch::Tensor, torch::Tensor> sparse_attention_gather(const torch::Tensor& q,
                                                                const torch::Tensor& k,
                                                                const torch::Tensor& v,
                                                                const torch::Tensor& idx, double scale,
                                                                double dropout = 0.0);

}  // namespace dsa
