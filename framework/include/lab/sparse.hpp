// Sparse slot: decides which keys each query may attend to, and attends over them.
#pragma once

#include <lab/forward_state.hpp>
#include <lab/kernel.hpp>
#include <lab/onnx_graph.hpp>
#include <lab/rope.hpp>

#include <torch/nn/module.h>

#include <map>
#include <string>

namespace lab {

class Sparse : public torch::nn::Module {
 public:
  // Same contract as Kernel::attend; `x` is the block input [B, T, d_model]; `dense` is the kernel slot.
  virtual torch::Tensor attend(const torch::Tensor& x, const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const KernelArgs& args, const Kernel& dense,
                               ForwardState& state) = 0;
  // Called when a training stage starts; `mode` is the stage's `mode` key ("" when unset).
  virtual void set_mode(const std::string& mode) { (void)mode; }
  // Rotary dims the plugin wants from the model's RoPE slot (0: none). The model then builds the RoPE
  // slot's plugin, with the recipe's settings, at that many dims and the training length, and hands it
  // over through use_rope() before the first forward, so the plugin sees positions exactly as the
  // attention it serves does (same theta, same scaling).
  virtual int64_t rope_dim() const { return 0; }
  virtual void use_rope(RopePtr rope) { (void)rope; }
  // Named tensors showing how the plugin treats these inputs (selector scores, selected keys,
  // attention weights), for pictures and tests; no gradient. Empty when a plugin has nothing to show.
  virtual std::map<std::string, torch::Tensor> inspect(const torch::Tensor& x, const torch::Tensor& q,
                                                       const torch::Tensor& k, const KernelArgs& args) {
    (void)x, (void)q, (void)k, (void)args;
    return {};
  }
  // attend() at inference as ONNX nodes over value names (x, q, k, v as in attend()). "" (the
  // default): the plugin cannot be exported.
  virtual std::string export_onnx(OnnxGraph& graph, const std::string& x, const std::string& q,
                                  const std::string& k, const std::string& v, const KernelArgs& args) {
    (void)graph, (void)x, (void)q, (void)k, (void)v, (void)args;
    return {};
  }
};

using SparsePtr = std::shared_ptr<Sparse>;

}  // namespace lab
