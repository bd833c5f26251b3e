// Model-wide shape facts every plugin factory receives.
#pragma once

#include <cstdint>

namespace lab {

struct ModelDims {
  int64_t d_model = 0;
  int64_t n_heads = 0;
  int64_t n_layers = 0;
  int64_t seq_len = 0;  // training sequence length
  int64_t vocab_size = 0;
  int64_t n_experts = 0;
  int64_t top_k = 0;
  int64_t d_ff = 0;
  double dropout = 0.0;
  int64_t layer = 0;  // index of the block being built
};

}  // namespace lab
