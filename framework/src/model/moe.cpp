#include "model/moe.hpp"

#include <torch/torch.h>

#include <cmath>

namespace lab {

MoEImpl::MoEImpl(int64_t d_model, int64_t d_ff, int64_t n_experts, RouterPtr router)
    : router_(std::move(router)), n_experts_(n_experts) {
  w_gate = register_parameter("w_gate", torch::empty({n_experts, d_ff, d_model}));
  w_up = register_parameter("w_up", torch::empty({n_experts, d_ff, d_model}));
  w_down = register_parameter("w_down", torch::empty({n_experts, d_model, d_ff}));
  register_module("router", router_);
}

torch::Tensor MoEImpl::forward(const torch::Tensor& x, ForwardState& state, const std::string& stat_prefix) {
  const auto shape = x.sizes().vec();
  const int64_t d = shape.back();
  auto flat = x.reshape({-1, d});
  Routing routing = router_->route(flat, state);
  if (routing.aux_loss.defined()) state.add_loss("balance", routing.aux_loss);

  const int64_t k = routing.experts.size(1);
  // Sort the N·K (token, expert) assignments by expert so each expert sees one contiguous batch.
  auto assignment = routing.experts.reshape({-1});
  auto order = std::get<1>(assignment.sort(c10::optional<bool>(true), /*dim=*/0, /*descending=*/false));
  auto token_of = order.div(k, "floor");
  auto counts = torch::bincount(assignment, /*weights=*/{}, n_experts_).to(torch::kCPU);
  auto gathered = flat.index_select(0, token_of);

  // unbind, not w[e]: indexing each expert would make backward materialise a full-size zero gradient
  // per expert (quadratic in the expert count); unbind's backward stacks the slices once.
  auto gates = w_gate.unbind(0), ups = w_up.unbind(0), downs = w_down.unbind(0);
  std::vector<torch::Tensor> outputs;
  outputs.reserve(n_experts_);
  const int64_t* count = counts.data_ptr<int64_t>();
  int64_t start = 0;
  for (int64_t e = 0; e < n_experts_; ++e) {
    if (count[e] == 0) continue;
    auto segment = gathered.narrow(0, start, count[e]);
    auto hidden = torch::silu(segment.matmul(gates[e].t())) * segment.matmul(ups[e].t());
    outputs.push_back(hidden.matmul(downs[e].t()));
    start += count[e];
  }
  auto expert_out = torch::cat(outputs, 0);
  auto weights =
      routing.weights.reshape({-1}).index_select(0, order).unsqueeze(1).to(expert_out.scalar_type());
  auto combined = torch::zeros_like(flat).index_add(0, token_of, expert_out * weights);

  if (!stat_prefix.empty()) {
    // Coefficient of variation of tokens per expert: 0 is perfect balance.
    double mean = 0, var = 0;
    for (int64_t e = 0; e < n_experts_; ++e) mean += count[e];
    mean /= n_experts_;
    for (int64_t e = 0; e < n_experts_; ++e) var += (count[e] - mean) * (count[e] - mean);
    var /= n_experts_;
    state.add_stat(stat_prefix + "load_cv", mean > 0 ? std::sqrt(var) / mean : 0.0);
  }
  return combined.reshape(shape);
}

}  // namespace lab
