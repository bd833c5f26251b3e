// Indexer scores on the selected keys only, I[t, s] for s in idx[t], with a hand-written backward.
#pragma once

#include "indexer.hpp"

#include <torch/types.h>

namespace dsa {

// q [B, T, HI, dI], k [B, S, dI], w [B, T, HI], idx [B, T, K] (-1: none) -> [B, T, K] with
// I[b,t,j] = Σ_h w[b,t,h]·ReLU(q[b,t,h]·k[b,idx[b,t,j]]) (0 where idx = -1). Memory grows with T·K.
// `known`, when filled by select_keys, holds those values and their per-head products already: the
// forward returns them and the backward skips recomputing q·k.
torch::Tensor selected_scores(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& w,
                              const torch::Tensor& idx, const PickedScores& known = {});

}  // namespace dsa
