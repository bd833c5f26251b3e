// Indexer scores on the selected keys only, I[t, s] for s in idx[t], with a hand-written backward.
#pragma once

#include <torch/types.h>

namespace dsa {

// q [B, T, HI, dI], k [B, S, dI], w [B, T, HI], idx [B, T, K] (-1: none) -> [B, T, K] with
// I[b,t,j] = Σ_h w[b,t,h]·ReLU(q[b,t,h]·k[b,idx[b,t,j]]) (0 where idx = -1). Memory grows with T·K.
// `known`, when defined, holds those values already (from select_keys) and the forward reuses them.
torch::Tensor selected_scores(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& w,
                              const torch::Tensor& idx, const torch::Tensor& known = {});

}  // namespace dsa
