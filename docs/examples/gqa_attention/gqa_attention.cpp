// Grouped-query attention (Ainslie et al., 2023): n_heads query heads share kv_heads key/value heads,
// shrinking the k and v projections (and a decoder's KV cache) by n_heads / kv_heads.
// kv_heads = n_heads is multi-head attention; kv_heads = 1 is multi-query attention.
#include <lab/plugin.hpp>

#include <torch/torch.h>

#include <cmath>
#include <string>

namespace {

class GroupedQueryAttention : public lab::Attention {
 public:
  GroupedQueryAttention(int64_t d_model, int64_t heads, int64_t kv_heads, bool bias)
      : heads_(heads), kv_heads_(kv_heads), head_dim_(d_model / heads) {
    auto linear = [&](int64_t in, int64_t out) {
      return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
    };
    // Registered names become parameter components in summary.json ("attention.k_proj", ...).
    q_proj_ = register_module("q_proj", linear(d_model, heads * head_dim_));
    k_proj_ = register_module("k_proj", linear(d_model, kv_heads * head_dim_));
    v_proj_ = register_module("v_proj", linear(d_model, kv_heads * head_dim_));
    o_proj_ = register_module("o_proj", linear(heads * head_dim_, d_model));
  }

  torch::Tensor forward(const torch::Tensor& x, lab::AttendContext& ctx) override {
    const int64_t b = x.size(0), t = x.size(1);
    auto split = [&](const torch::Tensor& y, int64_t n) {
      return y.view({b, t, n, head_dim_}).transpose(1, 2);
    };
    auto q = ctx.rope().apply(split(q_proj_(x), heads_));
    auto k = ctx.rope().apply(split(k_proj_(x), kv_heads_));
    auto v = split(v_proj_(x), kv_heads_);
    // Kernels take one key/value head per query head: query head h reads group h / (n_heads / kv_heads).
    if (kv_heads_ != heads_) {
      k = k.repeat_interleave(heads_ / kv_heads_, 1);
      v = v.repeat_interleave(heads_ / kv_heads_, 1);
    }
    auto out = ctx.attend(x, q, k, v, 1.0 / std::sqrt(static_cast<double>(head_dim_)));
    return o_proj_(out.transpose(1, 2).reshape({b, t, heads_ * head_dim_}));
  }

  int64_t rope_dim() const override { return head_dim_; }

 private:
  int64_t heads_, kv_heads_, head_dim_;
  torch::nn::Linear q_proj_{nullptr}, k_proj_{nullptr}, v_proj_{nullptr}, o_proj_{nullptr};
};

lab::AttentionPtr make(const lab::Options& options, const lab::ModelDims& dims) {
  return std::make_shared<GroupedQueryAttention>(dims.d_model, dims.n_heads, options.get_int("kv_heads"),
                                                 options.get_bool("bias"));
}

// Runs before anything is built: every impossible setting becomes one recipe error line.
void validate(const lab::Options& options, const lab::ModelDims& dims, lab::Problems& problems) {
  const int64_t kv_heads = options.get_int("kv_heads");
  if (kv_heads < 1) {
    problems.push_back({"kv_heads", "must be at least 1, got " + std::to_string(kv_heads)});
  } else if (dims.n_heads >= 1 && dims.n_heads % kv_heads != 0) {
    problems.push_back({"kv_heads", "model.n_heads = " + std::to_string(dims.n_heads) +
                                        " is not divisible by kv_heads = " + std::to_string(kv_heads)});
  }
  if (dims.n_heads < 1) return;  // the core reports that one
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
    p.name = "gqa";
    p.slot = lab::Slot::Attention;
    p.description = "grouped-query attention: n_heads query heads share kv_heads key/value heads";
    p.keys = {
        {"kv_heads", lab::Value::of(1), "key/value heads; must divide model.n_heads (1 = multi-query)"},
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
