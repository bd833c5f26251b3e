// Multi-head attention with mixed head dims: full-rank projections whose query/key head dim differs
// from the value head dim, with RoPE on the last rope_head_dim dims of each query/key head.
#include <lab/plugin.hpp>

#include <torch/torch.h>

#include <cmath>

namespace {

struct MixedShape {
  int64_t d_model = 0, heads = 0, qk_head = 0, v_head = 0, rope_head = 0;
  bool bias = false;
};

MixedShape shape_of(const lab::Options& options, const lab::ModelDims& dims) {
  return {dims.d_model,
          dims.n_heads,
          options.get_int("qk_head_dim"),
          options.get_int("v_head_dim"),
          options.get_int("rope_head_dim"),
          options.get_bool("bias")};
}

class MixedHeadAttention : public lab::Attention {
 public:
  explicit MixedHeadAttention(const MixedShape& s) : s_(s) {
    auto linear = [&](int64_t in, int64_t out) {
      return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(s.bias));
    };
    q_proj_ = register_module("q_proj", linear(s.d_model, s.heads * s.qk_head));
    k_proj_ = register_module("k_proj", linear(s.d_model, s.heads * s.qk_head));
    v_proj_ = register_module("v_proj", linear(s.d_model, s.heads * s.v_head));
    o_proj_ = register_module("o_proj", linear(s.heads * s.v_head, s.d_model));
  }

  torch::Tensor forward(const torch::Tensor& x, lab::AttendContext& ctx) override {
    const int64_t b = x.size(0), t = x.size(1);
    auto heads = [&](const torch::Tensor& y, int64_t dim) {
      return y.view({b, t, s_.heads, dim}).transpose(1, 2);
    };
    const int64_t plain = s_.qk_head - s_.rope_head;  // the un-rotated part comes first, as in MLA
    auto rotate = [&](const torch::Tensor& y) {
      if (plain == 0) return ctx.rope().apply(y);
      return torch::cat({y.narrow(-1, 0, plain), ctx.rope().apply(y.narrow(-1, plain, s_.rope_head))}, -1);
    };
    auto q = rotate(heads(q_proj_(x), s_.qk_head));
    auto k = rotate(heads(k_proj_(x), s_.qk_head));
    auto v = heads(v_proj_(x), s_.v_head);
    auto out = ctx.attend(x, q, k, v, 1.0 / std::sqrt(static_cast<double>(s_.qk_head)));
    return o_proj_(out.transpose(1, 2).reshape({b, t, s_.heads * s_.v_head}));
  }

  int64_t rope_dim() const override { return s_.rope_head; }

  std::string export_onnx(lab::OnnxGraph& g, const std::string& x, lab::OnnxAttend& ctx) override {
    namespace ops = lab::onnx_ops;
    const int64_t plain = s_.qk_head - s_.rope_head;
    auto heads = [&](const torch::nn::Linear& proj, int64_t dim) {
      return ops::split_heads(g, ops::linear(g, x, proj), s_.heads, dim);
    };
    auto rotate = [&](const std::string& y) {
      if (plain == 0) return ctx.rotate(y);
      return ops::concat(
          g, {ops::narrow(g, y, -1, 0, plain), ctx.rotate(ops::narrow(g, y, -1, plain, s_.rope_head))}, -1);
    };
    auto q = rotate(heads(q_proj_, s_.qk_head)), k = rotate(heads(k_proj_, s_.qk_head));
    auto v = heads(v_proj_, s_.v_head);
    auto out = ctx.attend(x, q, k, v, 1.0 / std::sqrt(static_cast<double>(s_.qk_head)));
    return ops::linear(g, ops::merge_heads(g, out, s_.heads * s_.v_head), o_proj_);
  }

 private:
  MixedShape s_;
  torch::nn::Linear q_proj_{nullptr}, k_proj_{nullptr}, v_proj_{nullptr}, o_proj_{nullptr};
};

lab::AttentionPtr make(const lab::Options& options, const lab::ModelDims& dims) {
  return std::make_shared<MixedHeadAttention>(shape_of(options, dims));
}

void validate(const lab::Options& options, const lab::ModelDims& dims, lab::Problems& problems) {
  const MixedShape s = shape_of(options, dims);
  if (s.qk_head < 1) problems.push_back({"qk_head_dim", "must be at least 1"});
  if (s.v_head < 1) problems.push_back({"v_head_dim", "must be at least 1"});
  if (s.rope_head < 2 || s.rope_head % 2 != 0)
    problems.push_back({"rope_head_dim", "must be even and at least 2 (RoPE rotates pairs), got " +
                                             std::to_string(s.rope_head)});
  else if (s.rope_head > s.qk_head)
    problems.push_back({"rope_head_dim", "rope_head_dim = " + std::to_string(s.rope_head) +
                                             " exceeds qk_head_dim = " + std::to_string(s.qk_head)});
}

const lab::PluginDescriptor* descriptor() {
  static const lab::PluginDescriptor d = [] {
    lab::PluginDescriptor p;
    p.name = "mixed_heads";
    p.slot = lab::Slot::Attention;
    p.description =
        "multi-head attention with a q/k head dim different from the v head dim, RoPE on part of it";
    p.keys = {
        {"qk_head_dim", lab::Value::of(int64_t{48}), "per-head query/key dim"},
        {"v_head_dim", lab::Value::of(int64_t{32}), "per-head value dim"},
        {"rope_head_dim", lab::Value::of(int64_t{16}), "trailing query/key dims that RoPE rotates (even)"},
        {"bias", lab::Value::of(false), "bias in the q, k, v and output projections"},
    };
    p.validate = validate;
    p.make_attention = make;
    return p;
  }();
  return &d;
}

}  // namespace

LAB_PLUGIN(descriptor)
