// Router slot: which experts each token goes to, with what weights, and the balancing loss.
#pragma once

#include <lab/forward_state.hpp>

#include <torch/nn/module.h>

namespace lab {

struct Routing {
  torch::Tensor experts;   // [N, K] int64 expert ids
  torch::Tensor weights;   // [N, K] combine weights
  torch::Tensor aux_loss;  // scalar, already weighted; undefined when the router has none
};

class Router : public torch::nn::Module {
 public:
  // x [N, d_model] (tokens flattened) -> routing for each token.
  virtual Routing route(const torch::Tensor& x, ForwardState& state) = 0;
  // Called after each optimizer step (gradient-free updates such as load-balancing biases).
  virtual void after_step() {}
};

using RouterPtr = std::shared_ptr<Router>;

}  // namespace lab
