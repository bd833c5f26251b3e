// The tied LM head and the training cross-entropy as one autograd node on CPU fp32: logits are made
// a chunk of rows at a time and turned into their gradient while in cache, and the head's input and
// weight gradients are accumulated there and then. The [tokens, vocab] logits never exist whole.
#pragma once

#include <torch/types.h>

namespace lab {

// Mean over rows of logsumexp(h·Wᵀ) − (h·Wᵀ)[target]: h [N, d], weight [V, d], targets [N] int64.
// Equal to training_cross_entropy(h.matmul(weight.t()), targets) in value and in the gradients of h
// and weight. The gradients are computed in the forward (training always runs the backward), so the
// node keeps dh and dW (N·d + V·d floats) instead of the logits (N·V).
torch::Tensor fused_head_cross_entropy(const torch::Tensor& h, const torch::Tensor& weight,
                                       const torch::Tensor& targets);

// Whether fused_head_cross_entropy takes these tensors (CPU fp32); otherwise callers form the logits.
bool fused_head_applies(const torch::Tensor& h, const torch::Tensor& weight);

}  // namespace lab
