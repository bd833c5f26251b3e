// The seeds' baseline router: softmax over the top-k (noisy) logits, switch-style balance loss.
#include <lab/plugin.hpp>

#include <torch/torch.h>

namespace {

class TopKRouter : public lab::Router {
 public:
  TopKRouter(int64_t d_model, int64_t experts, int64_t top_k, double noise_std, double aux_weight)
      : experts_(experts), top_k_(top_k), noise_std_(noise_std), aux_weight_(aux_weight) {
    gate_ =
        register_module("gate", torch::nn::Linear(torch::nn::LinearOptions(d_model, experts).bias(false)));
  }

  lab::Routing route(const torch::Tensor& x, lab::ForwardState&) override {
    auto logits = gate_(x).to(torch::kFloat32);
    // Exploration noise during training only; the full distribution uses the noisy logits too.
    if (is_training() && noise_std_ > 0) logits = logits + torch::randn_like(logits) * noise_std_;
    auto probs = torch::softmax(logits, -1);
    auto [top_values, top_index] = logits.topk(top_k_, -1);
    lab::Routing routing;
    routing.experts = top_index;
    routing.weights = torch::softmax(top_values, -1);
    routing.probs = probs;
    if (aux_weight_ > 0) {
      // f_i: share of the N·K assignments that went to expert i; P̄_i: mean router probability.
      auto counts =
          torch::zeros({experts_}, probs.options())
              .index_add(0, top_index.reshape({-1}), torch::ones({top_index.numel()}, probs.options()));
      auto f = counts / static_cast<double>(top_index.numel());
      auto p_mean = probs.mean(0);
      routing.aux_loss = (f * p_mean).sum() * static_cast<double>(experts_) * aux_weight_;
    }
    return routing;
  }

  // At inference there is no noise: the top-k logits, softmax over them.
  lab::OnnxRouting export_onnx(lab::OnnxGraph& g, const std::string& x) override {
    namespace ops = lab::onnx_ops;
    auto logits = ops::linear(g, x, gate_);
    auto top = g.node("TopK", {logits, ops::ints(g, {top_k_})}, 2, {lab::OnnxAttribute::of("axis", -1)});
    return {top[1], g.op("Softmax", {top[0]}, {lab::OnnxAttribute::of("axis", -1)})};
  }

 private:
  int64_t experts_, top_k_;
  double noise_std_, aux_weight_;
  torch::nn::Linear gate_{nullptr};
};

lab::RouterPtr make(const lab::Options& options, const lab::ModelDims& dims) {
  return std::make_shared<TopKRouter>(dims.d_model, dims.n_experts, dims.top_k,
                                      options.get_float("noise_std"), options.get_float("aux_weight"));
}

void validate(const lab::Options& options, const lab::ModelDims&, lab::Problems& problems) {
  if (options.get_float("noise_std") < 0) problems.push_back({"noise_std", "must not be negative"});
  if (options.get_float("aux_weight") < 0) problems.push_back({"aux_weight", "must not be negative"});
}

const lab::PluginDescriptor* descriptor() {
  static const lab::PluginDescriptor d = [] {
    lab::PluginDescriptor p;
    p.name = "topk";
    p.slot = lab::Slot::Router;
    p.description = "softmax top-k router with training noise and switch-style balance loss";
    p.keys = {
        {"noise_std", lab::Value::of(0.1), "std of Gaussian noise added to router logits while training"},
        {"aux_weight", lab::Value::of(0.01), "weight of the load-balancing loss N·Σ f_i·P̄_i"},
    };
    p.validate = validate;
    p.make_router = make;
    return p;
  }();
  return &d;
}

}  // namespace

LAB_PLUGIN(descriptor)
