// DeepSeek's Multi-head Latent Attention (V2/V3), MHA form: queries through an optional low-rank
// bottleneck, keys and values from one compressed latent, plus one rotary key shared by all heads.
// Sub-module names are DeepSeek's, so reference checkpoints load by name.
#include <lab/plugin.hpp>
#include <lab/rmsnorm.hpp>

#include <torch/torch.h>

#include <cmath>

namespace {

struct MlaShape {
  int64_t d_model = 0, heads = 0;
  int64_t q_lora_rank = 0;  // 0: plain q projection
  int64_t kv_lora_rank = 0;
  int64_t qk_nope = 0, qk_rope = 0, v_head = 0;
  bool bias = false;  // on q_a_proj, kv_a_proj_with_mqa and o_proj only, as DeepSeek's HF code
  int64_t qk_head() const { return qk_nope + qk_rope; }
};

MlaShape shape_of(const lab::Options& options, const lab::ModelDims& dims) {
  MlaShape s;
  s.d_model = dims.d_model;
  s.heads = dims.n_heads;
  s.q_lora_rank = options.get_int("q_lora_rank");
  s.kv_lora_rank = options.get_int("kv_lora_rank");
  s.qk_nope = options.get_int("qk_nope_head_dim");
  s.qk_rope = options.get_int("qk_rope_head_dim");
  s.v_head = options.get_int("v_head_dim");
  s.bias = options.get_bool("attention_bias");
  return s;
}

torch::nn::Linear linear(int64_t in, int64_t out, bool bias) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}

class MultiHeadLatentAttention : public lab::Attention {
 public:
  explicit MultiHeadLatentAttention(const MlaShape& s) : s_(s) {
    if (s.q_lora_rank > 0) {
      q_a_proj_ = register_module("q_a_proj", linear(s.d_model, s.q_lora_rank, s.bias));
      q_a_layernorm_ = register_module("q_a_layernorm", lab::RMSNorm(s.q_lora_rank));
      q_b_proj_ = register_module("q_b_proj", linear(s.q_lora_rank, s.heads * s.qk_head(), false));
    } else {
      q_proj_ = register_module("q_proj", linear(s.d_model, s.heads * s.qk_head(), false));
    }
    kv_a_proj_ = register_module("kv_a_proj_with_mqa", linear(s.d_model, s.kv_lora_rank + s.qk_rope, s.bias));
    kv_a_layernorm_ = register_module("kv_a_layernorm", lab::RMSNorm(s.kv_lora_rank));
    kv_b_proj_ =
        register_module("kv_b_proj", linear(s.kv_lora_rank, s.heads * (s.qk_nope + s.v_head), false));
    o_proj_ = register_module("o_proj", linear(s.heads * s.v_head, s.d_model, s.bias));
  }

  torch::Tensor forward(const torch::Tensor& x, lab::AttendContext& ctx) override {
    const int64_t b = x.size(0), t = x.size(1), h = s_.heads;
    auto q = s_.q_lora_rank > 0 ? q_b_proj_(q_a_layernorm_(q_a_proj_(x))) : q_proj_(x);
    q = q.view({b, t, h, s_.qk_head()}).transpose(1, 2);  // [B, H, T, d_qk], nope part first
    auto q_rope = ctx.rope().apply(q.narrow(-1, s_.qk_nope, s_.qk_rope));

    auto latent = kv_a_proj_(x);  // [B, T, r_kv + d_r]
    auto kv = kv_b_proj_(kv_a_layernorm_(latent.narrow(-1, 0, s_.kv_lora_rank)))
                  .view({b, t, h, s_.qk_nope + s_.v_head})
                  .transpose(1, 2);
    // One rotary key per token, shared by every head (the "MQA" key).
    auto k_rope = ctx.rope().apply(latent.narrow(-1, s_.kv_lora_rank, s_.qk_rope).unsqueeze(1));

    auto q_full = torch::cat({q.narrow(-1, 0, s_.qk_nope), q_rope}, -1);
    auto k_full = torch::cat({kv.narrow(-1, 0, s_.qk_nope), k_rope.expand({b, h, t, s_.qk_rope})}, -1);
    auto v = kv.narrow(-1, s_.qk_nope, s_.v_head);
    auto out = ctx.attend(x, q_full, k_full, v, 1.0 / std::sqrt(static_cast<double>(s_.qk_head())));
    return o_proj_(out.transpose(1, 2).reshape({b, t, h * s_.v_head}));
  }

  int64_t rope_dim() const override { return s_.qk_rope; }

  std::string export_onnx(lab::OnnxGraph& g, const std::string& x, lab::OnnxAttend& ctx) override {
    namespace ops = lab::onnx_ops;
    const int64_t h = s_.heads;
    auto q = s_.q_lora_rank > 0 ? ops::linear(g,
                                              ops::rms_norm(g, ops::linear(g, x, q_a_proj_),
                                                            q_a_layernorm_->weight, q_a_layernorm_->eps),
                                              q_b_proj_)
                                : ops::linear(g, x, q_proj_);
    q = ops::split_heads(g, q, h, s_.qk_head());
    auto q_rope = ctx.rotate(ops::narrow(g, q, -1, s_.qk_nope, s_.qk_rope));

    auto latent = ops::linear(g, x, kv_a_proj_);
    auto compressed = ops::rms_norm(g, ops::narrow(g, latent, -1, 0, s_.kv_lora_rank),
                                    kv_a_layernorm_->weight, kv_a_layernorm_->eps);
    auto kv = ops::split_heads(g, ops::linear(g, compressed, kv_b_proj_), h, s_.qk_nope + s_.v_head);
    // The shared rotary key [B, 1, T, d_r], broadcast to every head.
    auto k_rope = ctx.rotate(
        g.op("Unsqueeze", {ops::narrow(g, latent, -1, s_.kv_lora_rank, s_.qk_rope), ops::ints(g, {1})}));
    k_rope = g.op("Expand", {k_rope, ops::ints(g, {1, h, 1, 1})});

    auto q_full = ops::concat(g, {ops::narrow(g, q, -1, 0, s_.qk_nope), q_rope}, -1);
    auto k_full = ops::concat(g, {ops::narrow(g, kv, -1, 0, s_.qk_nope), k_rope}, -1);
    auto v = ops::narrow(g, kv, -1, s_.qk_nope, s_.v_head);
    auto out = ctx.attend(x, q_full, k_full, v, 1.0 / std::sqrt(static_cast<double>(s_.qk_head())));
    return ops::linear(g, ops::merge_heads(g, out, h * s_.v_head), o_proj_);
  }

 private:
  MlaShape s_;
  torch::nn::Linear q_proj_{nullptr}, q_a_proj_{nullptr}, q_b_proj_{nullptr};
  lab::RMSNorm q_a_layernorm_{nullptr}, kv_a_layernorm_{nullptr};
  torch::nn::Linear kv_a_proj_{nullptr}, kv_b_proj_{nullptr}, o_proj_{nullptr};
};

lab::AttentionPtr make(const lab::Options& options, const lab::ModelDims& dims) {
  return std::make_shared<MultiHeadLatentAttention>(shape_of(options, dims));
}

void validate(const lab::Options& options, const lab::ModelDims& dims, lab::Problems& problems) {
  const MlaShape s = shape_of(options, dims);
  const std::string d_model = " (model.d_model = " + std::to_string(s.d_model) + ")";
  if (s.qk_rope < 2 || s.qk_rope % 2 != 0)
    problems.push_back({"qk_rope_head_dim", "must be even and at least 2 (RoPE rotates pairs), got " +
                                                std::to_string(s.qk_rope)});
  if (s.qk_nope < 0) problems.push_back({"qk_nope_head_dim", "must not be negative"});
  if (s.v_head < 1) problems.push_back({"v_head_dim", "must be at least 1"});
  if (s.kv_lora_rank < 1 || s.kv_lora_rank >= s.d_model)
    problems.push_back({"kv_lora_rank", "must be between 1 and d_model - 1 to compress, got " +
                                            std::to_string(s.kv_lora_rank) + d_model});
  if (s.q_lora_rank < 0 || s.q_lora_rank >= s.d_model)
    problems.push_back({"q_lora_rank", "must be 0 (plain q projection) or below d_model, got " +
                                           std::to_string(s.q_lora_rank) + d_model});
}

const lab::PluginDescriptor* descriptor() {
  static const lab::PluginDescriptor d = [] {
    lab::PluginDescriptor p;
    p.name = "mla";
    p.slot = lab::Slot::Attention;
    p.description = "DeepSeek Multi-head Latent Attention (low-rank q and kv, shared rotary key)";
    p.keys = {
        {"q_lora_rank", lab::Value::of(int64_t{0}), "rank of the query bottleneck (0: plain q projection)"},
        {"kv_lora_rank", lab::Value::of(int64_t{64}), "rank of the compressed key/value latent"},
        {"qk_nope_head_dim", lab::Value::of(int64_t{32}), "per-head query/key dims without RoPE"},
        {"qk_rope_head_dim", lab::Value::of(int64_t{16}), "per-head query/key dims with RoPE (even)"},
        {"v_head_dim", lab::Value::of(int64_t{32}), "per-head value dim"},
        {"attention_bias", lab::Value::of(false), "bias on q_a_proj, kv_a_proj_with_mqa and o_proj"},
    };
    p.validate = validate;
    p.make_attention = make;
    return p;
  }();
  return &d;
}

}  // namespace

LAB_PLUGIN(descriptor)
