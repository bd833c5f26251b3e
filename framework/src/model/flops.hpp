// Model FLOPs per token, the numerator of model FLOPs utilisation (MFU).
#pragma once

#include <lab/dims.hpp>

#include <torch/nn/module.h>

namespace lab {

struct FlopsPerToken {
  double matmul_params = 0;  // weights a token multiplies with: routed experts at top_k / experts
  double forward = 0;        // 2·matmul_params + attention scores and values
  double training = 0;       // forward and backward: 3 × forward
};

// Counts the PaLM way: 2 FLOPs per weight a token meets (the tied LM head counts, the embedding lookup
// does not), plus 4·T·d per layer for QKᵀ and PV without discounting the causal mask; backward
// costs twice the forward. Capacity-dropped tokens are not subtracted.
FlopsPerToken model_flops_per_token(torch::nn::Module& model, const ModelDims& dims);

}  // namespace lab
