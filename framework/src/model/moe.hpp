// Mixture of SwiGLU experts behind the router slot, dispatched by sorting tokens by expert.
#pragma once

#include <lab/router.hpp>

#include <torch/nn/module.h>

namespace lab {

class MoEImpl : public torch::nn::Module {
 public:
  MoEImpl(int64_t d_model, int64_t d_ff, int64_t n_experts, RouterPtr router);
  // x [B, T, d] -> [B, T, d]; adds the router's aux loss and load statistics to `state`.
  torch::Tensor forward(const torch::Tensor& x, ForwardState& state, const std::string& stat_prefix);
  Router& router() { return *router_; }

  // Stacked expert weights: expert e is (w_gate[e], w_up[e], w_down[e]).
  torch::Tensor w_gate, w_up, w_down;  // [E, d_ff, d], [E, d_ff, d], [E, d, d_ff]

 private:
  RouterPtr router_;
  int64_t n_experts_;
};
TORCH_MODULE(MoE);

}  // namespace lab
