#include "model/moe.hpp"

#include "model/component_clock.hpp"
#include "model/fused_ops.hpp"

#include <torch/torch.h>

#include <cmath>

namespace lab {

namespace {

// gate_up = [gate; up] stacked along the output dim: one GEMM for both projections (forward, and
// one each for the weight and input gradients), then the fused SwiGLU product.
torch::Tensor swiglu(const torch::Tensor& x, const torch::Tensor& gate_up, const torch::Tensor& down) {
  return fused_swiglu(x.matmul(gate_up.t())).matmul(down.t());
}

// Tokens per expert, their coefficient of variation (0: perfect balance) and the mean entropy of the
// router's distribution over experts, for metrics.jsonl.
void add_load_stats(const std::string& prefix, const torch::Tensor& counts, const Routing& routing,
                    ForwardState& state) {
  const int64_t n_experts = counts.numel();
  const int64_t* count = counts.data_ptr<int64_t>();
  double mean = 0, var = 0;
  for (int64_t e = 0; e < n_experts; ++e) {
    mean += static_cast<double>(count[e]);
    state.add_stat(prefix + "tokens.e" + std::to_string(e), static_cast<double>(count[e]));
  }
  mean /= static_cast<double>(n_experts);
  for (int64_t e = 0; e < n_experts; ++e) var += (count[e] - mean) * (count[e] - mean);
  var /= static_cast<double>(n_experts);
  state.add_stat(prefix + "load_cv", mean > 0 ? std::sqrt(var) / mean : 0.0);
  if (routing.probs.defined()) {
    torch::NoGradGuard no_grad;
    auto p = routing.probs.to(torch::kFloat32);
    auto entropy = -(p * p.clamp_min(1e-20).log()).sum(-1).mean();
    state.add_stat(prefix + "entropy", entropy.item<double>());
  }
}

}  // namespace

int64_t expert_capacity(double capacity_factor, int64_t n_assignments, int64_t n_experts) {
  if (capacity_factor <= 0) return n_assignments;
  return static_cast<int64_t>(
      std::ceil(capacity_factor * static_cast<double>(n_assignments) / static_cast<double>(n_experts)));
}

MoEImpl::MoEImpl(int64_t d_model, int64_t d_ff, int64_t n_experts, RouterPtr router)
    : MoEImpl(MoEOptions{d_model, d_ff, n_experts, 0, 0.0}, std::move(router)) {}

MoEImpl::MoEImpl(const MoEOptions& options, RouterPtr router)
    : options_(options), router_(std::move(router)) {
  const int64_t e = options.n_experts, f = options.d_ff, d = options.d_model;
  w_gate = register_parameter("w_gate", torch::empty({e, f, d}));
  w_up = register_parameter("w_up", torch::empty({e, f, d}));
  w_down = register_parameter("w_down", torch::empty({e, d, f}));
  if (options.shared_experts > 0) {
    const int64_t width = options.shared_experts * f;
    shared_w_gate = register_parameter("shared_w_gate", torch::empty({width, d}));
    shared_w_up = register_parameter("shared_w_up", torch::empty({width, d}));
    shared_w_down = register_parameter("shared_w_down", torch::empty({d, width}));
  }
  register_module("router", router_);
}

torch::Tensor MoEImpl::forward(const torch::Tensor& x, ForwardState& state, const std::string& stat_prefix) {
  const auto shape = x.sizes().vec();
  const int64_t d = shape.back();
  const int64_t seq_len = x.dim() >= 3 ? shape[shape.size() - 2] : 0;
  auto flat = x.reshape({-1, d});
  Routing routing;
  {
    ComponentClock::Scope timing(clock_, "router");
    routing = router_->route_batch(flat, seq_len, state);
  }
  if (routing.aux_loss.defined()) state.add_loss("balance", routing.aux_loss);
  auto out = routed(flat, routing, state, stat_prefix);
  if (shared_w_gate.defined())
    out = out + swiglu(flat, torch::cat({shared_w_gate, shared_w_up}, 0), shared_w_down);
  return out.reshape(shape);
}

torch::Tensor MoEImpl::routed(const torch::Tensor& flat, const Routing& routing, ForwardState& state,
                              const std::string& stat_prefix) {
  const int64_t n_experts = options_.n_experts;
  const int64_t k = routing.experts.size(1);
  // Sort the N·K (token, expert) assignments by expert once, so each expert sees one contiguous batch;
  // the stable sort keeps token order inside an expert (capacity keeps the earliest tokens).
  auto assignment = routing.experts.reshape({-1});
  auto sorted = assignment.sort(c10::optional<bool>(true), /*dim=*/0, /*descending=*/false);
  auto order = std::get<1>(sorted);
  auto counts = torch::bincount(assignment, /*weights=*/{}, n_experts);
  auto kept = counts;
  const int64_t capacity = expert_capacity(options_.capacity_factor, assignment.numel(), n_experts);
  if (capacity < assignment.numel()) {
    // Rank of each sorted assignment within its expert; those at or past the capacity are dropped.
    auto starts = counts.cumsum(0) - counts;
    auto rank =
        torch::arange(assignment.numel(), counts.options()) - starts.index_select(0, std::get<0>(sorted));
    order = order.masked_select(rank < capacity);
    kept = counts.clamp_max(capacity);
  }
  auto kept_cpu = kept.to(torch::kCPU);
  auto token_of = order.div(k, "floor");
  auto gathered = flat.index_select(0, token_of);

  // unbind, not w[e]: indexing each expert would make backward materialise a full-size zero gradient
  // per expert (quadratic in the expert count); unbind's backward stacks the slices once.
  auto gate_ups = torch::cat({w_gate, w_up}, 1).unbind(0), downs = w_down.unbind(0);
  std::vector<torch::Tensor> outputs;
  outputs.reserve(n_experts);
  const int64_t* count = kept_cpu.data_ptr<int64_t>();
  // split, not narrow: narrow's backward would write each expert's gradient into a zero tensor the
  // size of the whole batch and add those up (quadratic in the expert count); split's concatenates.
  const std::vector<int64_t> sizes(count, count + n_experts);
  auto batches = gathered.split_with_sizes(sizes, 0);
  for (int64_t e = 0; e < n_experts; ++e) {
    if (count[e] == 0) continue;
    outputs.push_back(swiglu(batches[e], gate_ups[e], downs[e]));
  }
  auto combined = torch::zeros_like(flat);
  if (!outputs.empty()) {
    auto expert_out = outputs.size() == 1 ? outputs[0] : torch::cat(outputs, 0);
    auto weights =
        routing.weights.reshape({-1}).index_select(0, order).unsqueeze(1).to(expert_out.scalar_type());
    // Under bf16 autocast the experts return bf16; the sum over a token's experts stays in flat's type.
    combined = combined.index_add(0, token_of, (expert_out * weights).to(combined.scalar_type()));
  }

  if (!stat_prefix.empty()) {
    add_load_stats(stat_prefix, counts.to(torch::kCPU), routing, state);
    if (options_.capacity_factor > 0)
      state.add_stat(stat_prefix + "dropped",
                     1.0 - static_cast<double>(order.numel()) / static_cast<double>(assignment.numel()));
  }
  return combined;
}

}  // namespace lab
