// Attention slot: projects hidden states to q, k, v and back; the core applies sparse and kernel.
#pragma once

#include <lab/forward_state.hpp>
#include <lab/onnx_graph.hpp>
#include <lab/rope.hpp>

#include <torch/nn/module.h>

namespace lab {

// Supplied by the block for each forward pass.
class AttendContext {
 public:
  virtual ~AttendContext() = default;
  // q [B, H, T, Dqk], k [B, H, S, Dqk], v [B, H, S, Dv] -> [B, H, T, Dv]. `scale` is the plugin's own
  // softmax scale; the core multiplies it by the RoPE slot's factor, then runs sparse and kernel slots.
  // `x` is the block's normalised input [B, T, d_model], for selectors that look at it (DSA).
  virtual torch::Tensor attend(const torch::Tensor& x, const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, double scale) = 0;
  virtual const Rope& rope() const = 0;
  virtual ForwardState& state() = 0;
};

class Attention : public torch::nn::Module {
 public:
  // x [B, T, d_model] -> [B, T, d_model].
  virtual torch::Tensor forward(const torch::Tensor& x, AttendContext& ctx) = 0;
  // Rotary dim this plugin applies RoPE to (the core builds the RoPE slot with it).
  virtual int64_t rope_dim() const = 0;
  // forward() as ONNX nodes, for lab export --format onnx: x [B, T, d_model] -> [B, T, d_model]. "" (the
  // default): the plugin cannot be exported. May throw OnnxUnsupported for a setting it cannot express.
  virtual std::string export_onnx(OnnxGraph& graph, const std::string& x, OnnxAttend& ctx) {
    (void)graph, (void)x, (void)ctx;
    return {};
  }
};

using AttentionPtr = std::shared_ptr<Attention>;

}  // namespace lab
