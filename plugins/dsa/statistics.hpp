// What DSA's selection keeps and loses: the indexer's training targets and per-layer statistics.
#pragma once

#include <torch/types.h>

namespace dsa {

// Head-mean dense causal attention probabilities p[b, t, s] of queries [t0, t0 + rows) over keys
// [0, keys): softmax(q·k·scale) averaged over heads, [B, rows, keys]. No gradient.
torch::Tensor dense_head_mean(const torch::Tensor& q, const torch::Tensor& k, double scale, int64_t t0,
                              int64_t rows, int64_t keys);

// Σ_t KL(p_t ‖ softmax(scores_t)) / (B·T) over the entries where `support` is true; p is detached and
// scores is differentiable. 0·log 0 = 0; the log-softmax is taken over the support only.
torch::Tensor indexer_kl(const torch::Tensor& p, const torch::Tensor& scores, const torch::Tensor& support);

struct SelectionStats {
  double sparsity = 0;       // share of causal (query, key) pairs not selected
  double distance_mean = 0;  // mean query-key distance under the sparse attention weights
  double distance_std = 0;   // its spread (standard deviation), pooled over queries
  double recall = 0;         // mean share of the dense attention mass on the selected keys
};

// idx [B, T, K] (-1: none), probs [B, T, K] the head-mean sparse attention weights; recall is computed
// against dense attention in query blocks, so no [B, H, T, S] tensor is held.
SelectionStats selection_stats(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& idx,
                               const torch::Tensor& probs, double scale, int64_t block = 256);

}  // namespace dsa
