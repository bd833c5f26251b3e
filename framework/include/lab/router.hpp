// Router slot: which experts each token goes to, with what weights, and the balancing loss.
#pragma once

#include <lab/forward_state.hpp>
#include <lab/onnx_graph.hpp>

#include <torch/nn/module.h>

namespace lab {

struct Routing {
  torch::Tensor experts;   // [N, K] int64 expert ids
  torch::Tensor weights;   // [N, K] combine weights
  torch::Tensor aux_loss;  // scalar, already weighted; undefined when the router has none
  // [N, E] the router's distribution over all experts (rows sum to 1), for the entropy statistic;
  // undefined when the router has none.
  torch::Tensor probs;
};

// The ONNX form of a Routing, for tokens x [N, d_model]: value names, empty when there is no export.
struct OnnxRouting {
  std::string experts;  // [N, K] int64
  std::string weights;  // [N, K] float
};

class Router : public torch::nn::Module {
 public:
  // x [N, d_model] (tokens flattened) -> routing for each token.
  virtual Routing route(const torch::Tensor& x, ForwardState& state) = 0;
  // As route(), for N = B·seq_len tokens that are B sequences of seq_len (0: unknown), for routers
  // whose losses are per sequence. The MoE layer calls this one.
  virtual Routing route_batch(const torch::Tensor& x, int64_t seq_len, ForwardState& state) {
    (void)seq_len;
    return route(x, state);
  }
  // Called after each optimizer step (gradient-free updates such as load-balancing biases), only while
  // the router's parameters train: a stage that freezes the router group skips it.
  virtual void after_step() {}
  // route() at inference as ONNX nodes, the same experts and weights. Empty (the default): the router
  // cannot be exported.
  virtual OnnxRouting export_onnx(OnnxGraph& graph, const std::string& x) {
    (void)graph, (void)x;
    return {};
  }
};

using RouterPtr = std::shared_ptr<Router>;

}  // namespace lab
