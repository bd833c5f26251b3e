// DeepSeek-V3 routing: sigmoid affinities, top-k over affinity plus a gradient-free balancing bias,
// optional group-limited selection, normalised and scaled gate weights, and a small sequence-wise
// balance loss. The bias moves after each step toward balanced load (auxiliary-loss-free balancing).
#include <lab/plugin.hpp>
#include <lab/ranks.hpp>

#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/torch.h>

#include <limits>

namespace {

struct Settings {
  double update_speed = 0.001;  // γ of the bias update
  double route_scale = 1.0;
  int64_t groups = 1;
  int64_t topk_groups = 1;
  double balance_alpha = 0.0001;
};

class DeepSeekRouter : public lab::Router {
 public:
  DeepSeekRouter(int64_t d_model, int64_t experts, int64_t top_k, Settings settings)
      : experts_(experts), top_k_(top_k), s_(settings) {
    gate_ =
        register_module("gate", torch::nn::Linear(torch::nn::LinearOptions(d_model, experts).bias(false)));
    // A buffer, not a parameter: no gradient, no weight decay, not in the optimizer; saved with the model.
    bias_ = register_buffer("bias", torch::zeros({experts}));
  }

  lab::Routing route(const torch::Tensor& x, lab::ForwardState& state) override {
    return route_batch(x, 0, state);
  }

  lab::Routing route_batch(const torch::Tensor& x, int64_t seq_len, lab::ForwardState&) override {
    // The router runs in fp32 whatever the model's precision, autocast included.
    c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
    auto scores = torch::sigmoid(
        torch::nn::functional::linear(x.to(torch::kFloat32), gate_->weight.to(torch::kFloat32)));
    torch::Tensor index;
    {
      torch::NoGradGuard no_grad;  // selection is discrete; gradients flow through the weights only
      auto choice = scores.detach() + bias_;
      if (s_.groups > 1) choice = limit_groups(choice);
      index = std::get<1>(choice.topk(top_k_, -1));
    }
    auto picked = scores.gather(1, index);  // unbiased affinities of the chosen experts
    lab::Routing routing;
    routing.experts = index;
    routing.weights = picked / picked.sum(-1, true) * s_.route_scale;
    routing.probs = (scores / scores.sum(-1, true)).detach();
    if (s_.balance_alpha > 0) routing.aux_loss = balance_loss(scores, index, seq_len);
    // Loads count only while the router trains: a stage that freezes the router group (a DSA warm-up,
    // say) must leave routing exactly as it was, and the bias is a buffer that requires_grad cannot stop.
    if (is_training() && torch::GradMode::is_enabled() && gate_->weight.requires_grad()) {
      torch::NoGradGuard no_grad;
      auto counts = torch::bincount(index.reshape({-1}), {}, experts_).to(torch::kFloat32);
      load_ = load_.defined() ? load_ + counts : counts;
    }
    return routing;
  }

  // b_i += γ·sign(c̄ − c_i) over the assignments of the whole step (all micro-batches).
  void after_step() override {
    if (!load_.defined()) return;
    torch::NoGradGuard no_grad;
    // In a data-parallel run the bias follows the load of the whole global batch, alike on every rank.
    lab::sum_over_ranks(load_);
    if (s_.update_speed > 0) bias_.add_((load_.mean() - load_).sign() * s_.update_speed);
    load_ = torch::Tensor();
  }

  // The same selection (bias and group limit on the choice only) and weights as route_batch().
  lab::OnnxRouting export_onnx(lab::OnnxGraph& g, const std::string& x) override {
    namespace ops = lab::onnx_ops;
    using A = lab::OnnxAttribute;
    auto scores = g.op("Sigmoid", {ops::linear(g, x, gate_)});
    auto choice = g.op("Add", {scores, g.constant(bias_, "router_bias")});
    if (s_.groups > 1) choice = limit_groups_onnx(g, choice);
    auto index = g.node("TopK", {choice, ops::ints(g, {top_k_})}, 2, {A::of("axis", -1)})[1];
    auto picked = g.op("GatherElements", {scores, index}, {A::of("axis", 1)});
    auto total = g.op("ReduceSum", {picked, ops::ints(g, {-1})}, {A::of("keepdims", 1)});
    auto weights = g.op("Mul", {g.op("Div", {picked, total}), ops::scalar(g, s_.route_scale)});
    return {index, weights};
  }

 private:
  // limit_groups() as ONNX nodes: groups ranked by the sum of their two best choices.
  std::string limit_groups_onnx(lab::OnnxGraph& g, const std::string& choice) const {
    namespace ops = lab::onnx_ops;
    using A = lab::OnnxAttribute;
    auto grouped = g.op("Reshape", {choice, ops::ints(g, {-1, s_.groups, experts_ / s_.groups})});
    auto best_two = g.node("TopK", {grouped, ops::ints(g, {2})}, 2, {A::of("axis", -1)})[0];
    auto group_score = g.op("ReduceSum", {best_two, ops::ints(g, {-1})}, {A::of("keepdims", 0)});
    auto best = g.node("TopK", {group_score, ops::ints(g, {s_.topk_groups})}, 2, {A::of("axis", -1)})[1];
    // keep [N, G]: 1 for the chosen groups, by scattering ones over zeros.
    auto zeros = g.op("Mul", {group_score, ops::scalar(g, 0.0)});
    auto ones =
        g.op("Add", {g.op("Mul", {g.op("Cast", {best}, {A::of("to", int64_t{1})}), ops::scalar(g, 0.0)}),
                     ops::scalar(g, 1.0)});
    auto keep = g.op("Cast", {g.op("ScatterElements", {zeros, best, ones}, {A::of("axis", 1)})},
                     {A::of("to", int64_t{9})});
    auto minus_inf = ops::scalar(g, -std::numeric_limits<double>::infinity());
    auto limited = g.op("Where", {g.op("Unsqueeze", {keep, ops::ints(g, {-1})}), grouped, minus_inf});
    return g.op("Reshape", {limited, ops::ints(g, {-1, experts_})});
  }

  // Keeps the topk_groups groups with the highest sum of their two best scores; other experts get −∞.
  torch::Tensor limit_groups(const torch::Tensor& choice) const {
    const int64_t n = choice.size(0);
    auto grouped = choice.view({n, s_.groups, experts_ / s_.groups});
    auto group_score = std::get<0>(grouped.topk(2, -1)).sum(-1);
    auto best = std::get<1>(group_score.topk(s_.topk_groups, -1));
    auto keep = torch::zeros({n, s_.groups}, choice.options().dtype(torch::kBool)).scatter(1, best, true);
    return grouped.masked_fill(keep.logical_not().unsqueeze(-1), -std::numeric_limits<float>::infinity())
        .view({n, experts_});
  }

  // α·Σ_i f_i·P_i per sequence, averaged over sequences. f counts the routed set (bias and group limit
  // applied) and is a constant; the gradient flows through P, the mean normalised affinity.
  torch::Tensor balance_loss(const torch::Tensor& scores, const torch::Tensor& index, int64_t seq_len) const {
    const int64_t n = scores.size(0);
    const int64_t t = seq_len > 0 && n % seq_len == 0 ? seq_len : n;
    const int64_t b = n / t;
    auto hits = torch::zeros({n, experts_}, scores.options()).scatter(1, index, 1.0f);
    auto f = hits.view({b, t, experts_}).sum(1) * (static_cast<double>(experts_) / (top_k_ * t));
    auto p = (scores / scores.sum(-1, true)).view({b, t, experts_}).mean(1);
    return (f * p).sum(-1).mean() * s_.balance_alpha;
  }

  int64_t experts_, top_k_;
  Settings s_;
  torch::nn::Linear gate_{nullptr};
  torch::Tensor bias_;
  torch::Tensor load_;  // assignments per expert since the last step
};

Settings settings_of(const lab::Options& o) {
  Settings s;
  s.update_speed = o.get_float("bias_update_speed");
  s.route_scale = o.get_float("route_scale");
  s.groups = o.get_int("groups");
  s.topk_groups = o.get_int("topk_groups");
  s.balance_alpha = o.get_float("balance_alpha");
  return s;
}

lab::RouterPtr make(const lab::Options& options, const lab::ModelDims& dims) {
  return std::make_shared<DeepSeekRouter>(dims.d_model, dims.n_experts, dims.top_k, settings_of(options));
}

void validate(const lab::Options& options, const lab::ModelDims& dims, lab::Problems& problems) {
  const Settings s = settings_of(options);
  if (s.update_speed < 0) problems.push_back({"bias_update_speed", "must not be negative"});
  if (s.route_scale <= 0) problems.push_back({"route_scale", "must be positive"});
  if (s.balance_alpha < 0) problems.push_back({"balance_alpha", "must not be negative"});
  if (s.groups < 1) {
    problems.push_back({"groups", "must be at least 1"});
    return;
  }
  if (s.topk_groups < 1 || s.topk_groups > s.groups)
    problems.push_back({"topk_groups", "must be between 1 and groups = " + std::to_string(s.groups)});
  if (s.groups == 1) return;
  if (dims.n_experts % s.groups != 0) {
    problems.push_back({"groups", std::to_string(s.groups) + " groups do not divide moe.experts = " +
                                      std::to_string(dims.n_experts)});
    return;
  }
  const int64_t per_group = dims.n_experts / s.groups;
  if (per_group < 2)
    problems.push_back({"groups", "each group needs at least 2 experts (moe.experts = " +
                                      std::to_string(dims.n_experts) + ")"});
  if (s.topk_groups >= 1 && s.topk_groups <= s.groups && dims.top_k > s.topk_groups * per_group)
    problems.push_back(
        {"topk_groups", std::to_string(s.topk_groups) + " groups of " + std::to_string(per_group) +
                            " experts leave fewer than moe.top_k = " + std::to_string(dims.top_k) +
                            " to choose from"});
}

const lab::PluginDescriptor* descriptor() {
  static const lab::PluginDescriptor d = [] {
    lab::PluginDescriptor p;
    p.name = "deepseek";
    p.slot = lab::Slot::Router;
    p.description =
        "DeepSeek-V3 router: sigmoid scores, auxiliary-loss-free bias balancing, group-limited top-k, "
        "sequence-wise balance loss";
    p.keys = {
        {"bias_update_speed", lab::Value::of(0.001),
         "gamma: each step the balancing bias moves by this toward balanced load (0: frozen)"},
        {"route_scale", lab::Value::of(1.0),
         "routed scaling factor on the normalised top-k weights (V3: 2.5)"},
        {"groups", lab::Value::of(int64_t{1}), "expert groups for group-limited routing (1: off)"},
        {"topk_groups", lab::Value::of(int64_t{1}),
         "groups each token may use, ranked by their top-2 scores"},
        {"balance_alpha", lab::Value::of(0.0001), "weight of the sequence-wise balance loss (0: off)"},
    };
    p.validate = validate;
    p.make_router = make;
    return p;
  }();
  return &d;
}

}  // namespace

LAB_PLUGIN(descriptor)
