// Baseline multi-head attention: q, k, v and output projections, RoPE over the whole head dim.
#include <lab/plugin.hpp>

#include <torch/torch.h>

#include <cmath>

namespace {

class MultiHeadAttention : public lab::Attention {
 public:
  MultiHeadAttention(int64_t d_model, int64_t heads, bool bias) : heads_(heads), head_dim_(d_model / heads) {
    auto linear = [&](int64_t in, int64_t out) {
      return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
    };
    q_proj_ = register_module("q_proj", linear(d_model, d_model));
    k_proj_ = register_module("k_proj", linear(d_model, d_model));
    v_proj_ = register_module("v_proj", linear(d_model, d_model));
    o_proj_ = register_module("o_proj", linear(d_model, d_model));
  }

  torch::Tensor forward(const torch::Tensor& x, lab::AttendContext& ctx) override {
    const int64_t b = x.size(0), t = x.size(1);
    auto heads = [&](const torch::Tensor& y) { return y.view({b, t, heads_, head_dim_}).transpose(1, 2); };
    auto q = ctx.rope().apply(heads(q_proj_(x)));
    auto k = ctx.rope().apply(heads(k_proj_(x)));
    auto v = heads(v_proj_(x));
    auto out = ctx.attend(x, q, k, v, 1.0 / std::sqrt(static_cast<double>(head_dim_)));
    return o_proj_(out.transpose(1, 2).reshape({b, t, heads_ * head_dim_}));
  }

  int64_t rope_dim() const override { return head_dim_; }

  std::string export_onnx(lab::OnnxGraph& g, const std::string& x, lab::OnnxAttend& ctx) override {
    namespace ops = lab::onnx_ops;
    auto heads = [&](const torch::nn::Linear& proj) {
      return ops::split_heads(g, ops::linear(g, x, proj), heads_, head_dim_);
    };
    auto q = ctx.rotate(heads(q_proj_)), k = ctx.rotate(heads(k_proj_)), v = heads(v_proj_);
    auto out = ctx.attend(x, q, k, v, 1.0 / std::sqrt(static_cast<double>(head_dim_)));
    return ops::linear(g, ops::merge_heads(g, out, heads_ * head_dim_), o_proj_);
  }

 private:
  int64_t heads_, head_dim_;
  torch::nn::Linear q_proj_{nullptr}, k_proj_{nullptr}, v_proj_{nullptr}, o_proj_{nullptr};
};

lab::AttentionPtr make(const lab::Options& options, const lab::ModelDims& dims) {
  return std::make_shared<MultiHeadAttention>(dims.d_model, dims.n_heads, options.get_bool("bias"));
}

void validate(const lab::Options&, const lab::ModelDims& dims, lab::Problems& problems) {
  if (dims.n_heads < 1) return;
  if (dims.d_model % dims.n_heads != 0) {
    problems.push_back(
        {"model.d_model", "d_model = " + std::to_string(dims.d_model) +
                              " is not divisible by model.n_heads = " + std::to_string(dims.n_heads)});
  } else if ((dims.d_model / dims.n_heads) % 2 != 0) {
    problems.push_back(
        {"model.n_heads", "head dim d_model / n_heads = " + std::to_string(dims.d_model / dims.n_heads) +
                              " must be even for RoPE"});
  }
}

const lab::PluginDescriptor* descriptor() {
  static const lab::PluginDescriptor d = [] {
    lab::PluginDescriptor p;
    p.name = "mha";
    p.slot = lab::Slot::Attention;
    p.description = "standard multi-head attention (the seeds' baseline)";
    p.keys = {{"bias", lab::Value::of(false), "bias in the q, k, v and output projections"}};
    p.validate = validate;
    p.make_attention = make;
    return p;
  }();
  return &d;
}

}  // namespace

LAB_PLUGIN(descriptor)
