// Mixture of SwiGLU experts behind the router slot, dispatched by sorting tokens by expert, plus
// optional shared experts that every token passes through.
#pragma once

#include <lab/router.hpp>

#include <torch/nn/module.h>

namespace lab {

class ComponentClock;
class OnnxGraph;

struct MoEOptions {
  int64_t d_model = 0;
  int64_t d_ff = 0;            // hidden size of one expert
  int64_t n_experts = 0;       // routed experts
  int64_t shared_experts = 0;  // always-on experts, run as one SwiGLU of width shared_experts·d_ff
  // Each expert takes at most ceil(capacity_factor·N·K/E) assignments per batch, the earliest tokens
  // first; the rest are dropped (the residual carries them). 0: no limit.
  double capacity_factor = 0.0;
};

class MoEImpl : public torch::nn::Module {
 public:
  MoEImpl(const MoEOptions& options, RouterPtr router);
  MoEImpl(int64_t d_model, int64_t d_ff, int64_t n_experts, RouterPtr router);
  // x [B, T, d] -> [B, T, d]; adds the router's aux loss and, when stat_prefix is not empty, load
  // statistics (tokens per expert, their coefficient of variation, router entropy) to `state`.
  torch::Tensor forward(const torch::Tensor& x, ForwardState& state, const std::string& stat_prefix);
  Router& router() { return *router_; }
  const MoEOptions& options() const { return options_; }
  void set_component_clock(ComponentClock* clock) { clock_ = clock; }
  // forward() at inference as ONNX nodes, every expert computed densely and weighted by its gate
  // (onnx/lower_model.cpp); `router_plugin` names the router in errors.
  std::string export_onnx(OnnxGraph& graph, const std::string& x, const std::string& router_plugin);

  // Stacked expert weights: expert e is (w_gate[e], w_up[e], w_down[e]).
  torch::Tensor w_gate, w_up, w_down;  // [E, d_ff, d], [E, d_ff, d], [E, d, d_ff]
  // Shared experts (undefined when there are none): [S·d_ff, d], [S·d_ff, d], [d, S·d_ff].
  torch::Tensor shared_w_gate, shared_w_up, shared_w_down;

 private:
  torch::Tensor routed(const torch::Tensor& flat, const Routing& routing, ForwardState& state,
                       const std::string& stat_prefix);

  MoEOptions options_;
  RouterPtr router_;
  ComponentClock* clock_ = nullptr;  // times the router's share of the forward
};
TORCH_MODULE(MoE);

// The number of assignments one expert may take at `capacity_factor` (0: no limit, returns n_assignments).
int64_t expert_capacity(double capacity_factor, int64_t n_assignments, int64_t n_experts);

}  // namespace lab
