// RoPE slot: rotary tables and any factor the scaling contributes to the softmax scale.
#pragma once

#include <lab/onnx_graph.hpp>

#include <torch/types.h>

#include <memory>
#include <utility>

namespace lab {

enum class RopeLayout {
  Interleaved,  // pairs (x0,x1), (x2,x3)...: DeepSeek checkpoints, torchtune
  HalfSplit,    // pairs (x_i, x_{i+D/2}): NeoX / Llama rotate_half
};

class Rope {
 public:
  virtual ~Rope() = default;
  // Rotates x [B, H, T, D] (D = rotary dim) for positions offset .. offset+T-1.
  virtual torch::Tensor apply(const torch::Tensor& x, int64_t offset = 0) const = 0;
  // cos and sin, each [T, D/2], for positions 0 .. seq_len-1 (already multiplied by any mscale).
  virtual std::pair<torch::Tensor, torch::Tensor> tables(int64_t seq_len, torch::Device device) const = 0;
  // Multiplies the attention's softmax scale (YaRN's mscale²); 1 for plain RoPE.
  virtual double softmax_scale_factor() const { return 1.0; }
  virtual int64_t dim() const = 0;
  // apply() as ONNX nodes: x [B, H, T, D] at positions 0 .. T-1, T up to graph.max_seq_len(). "" (the
  // default): the plugin cannot be exported. Rotary implements it for every table-driven RoPE.
  virtual std::string export_onnx(OnnxGraph& graph, const std::string& x) const {
    (void)graph, (void)x;
    return {};
  }
};

using RopePtr = std::shared_ptr<Rope>;

struct RopeDims {
  int64_t dim = 0;          // rotary dim, even
  int64_t max_seq_len = 0;  // training sequence length
};

}  // namespace lab
