// mla and mixed_heads: shapes handed to the kernel, gradients, causality, recipe errors, parameter counts;
// every RoPE plugin under every attention plugin.
#include "attend_context.hpp"
#include "model/model.hpp"
#include "test_support.hpp"

#include <lab/error.hpp>

#include <gtest/gtest.h>
#include <torch/torch.h>

using namespace lab;

namespace {

const PluginDescriptor& plugin(Slot slot, const std::string& name) {
  return test::registry().require(slot, name);
}

struct Built {
  AttentionPtr attention;
  RopePtr rope;
  KernelPtr kernel;
};

Built build(const std::string& attention, const std::map<std::string, Value>& keys, int64_t d_model,
            int64_t heads, const std::string& rope = "rope",
            const std::map<std::string, Value>& rope_keys = {}) {
  ModelDims dims;
  dims.d_model = d_model;
  dims.n_heads = heads;
  dims.seq_len = 16;
  const auto& ap = plugin(Slot::Attention, attention);
  Built b;
  b.attention = ap.make_attention(default_options(ap, keys), dims);
  const auto& rp = plugin(Slot::Rope, rope);
  b.rope = rp.make_rope(default_options(rp, rope_keys), RopeDims{b.attention->rope_dim(), dims.seq_len});
  b.kernel = plugin(Slot::Kernel, "math").make_kernel(Options());
  return b;
}

const std::map<std::string, Value> kMlaQLora = {
    {"q_lora_rank", Value::of(6)},      {"kv_lora_rank", Value::of(5)}, {"qk_nope_head_dim", Value::of(3)},
    {"qk_rope_head_dim", Value::of(4)}, {"v_head_dim", Value::of(2)},   {"attention_bias", Value::of(true)}};
const std::map<std::string, Value> kMlaPlain = {{"q_lora_rank", Value::of(0)},
                                                {"kv_lora_rank", Value::of(5)},
                                                {"qk_nope_head_dim", Value::of(2)},
                                                {"qk_rope_head_dim", Value::of(2)},
                                                {"v_head_dim", Value::of(3)}};
const std::map<std::string, Value> kMixed = {
    {"qk_head_dim", Value::of(6)}, {"v_head_dim", Value::of(3)}, {"rope_head_dim", Value::of(4)}};

struct Case {
  std::string name;
  std::string attention;
  std::map<std::string, Value> keys;
};

class AttentionPlugin : public ::testing::TestWithParam<Case> {};

}  // namespace

TEST_P(AttentionPlugin, GradientsMatchFiniteDifferencesInDouble) {
  torch::manual_seed(11);
  Built b = build(GetParam().attention, GetParam().keys, 8, 2);
  b.attention->to(torch::kFloat64);
  // Non-trivial norm weights and biases, so their gradients are checked too.
  {
    torch::NoGradGuard no_grad;
    for (auto& p : b.attention->parameters())
      p.copy_(torch::randn_like(p) * 0.5 + (p.dim() == 1 ? 1.0 : 0.0));
  }
  test::DirectAttend ctx(*b.kernel, *b.rope);
  double err = test::max_gradient_error(
      [&](const std::vector<torch::Tensor>& x) { return b.attention->forward(x[0], ctx); },
      {torch::randn({2, 5, 8})});
  EXPECT_LT(err, 1e-6);
  // Parameter gradients: central differences on a few entries of every parameter.
  auto x = torch::randn({1, 4, 8}, torch::kFloat64);
  auto probe = torch::randn({1, 4, 8}, torch::kFloat64);
  auto objective = [&] { return (b.attention->forward(x, ctx) * probe).sum(); };
  for (auto& named : b.attention->named_parameters()) {
    auto w = named.value();
    w.mutable_grad() = torch::Tensor();
    objective().backward();
    auto grad = w.grad().clone().view({-1});
    torch::NoGradGuard no_grad;
    auto flat = w.view({-1});
    for (int64_t i : {int64_t{0}, flat.numel() / 2, flat.numel() - 1}) {
      const double orig = flat[i].item<double>(), eps = 1e-6;
      flat[i] = orig + eps;
      const double plus = objective().item<double>();
      flat[i] = orig - eps;
      const double minus = objective().item<double>();
      flat[i] = orig;
      EXPECT_NEAR((plus - minus) / (2 * eps), grad[i].item<double>(), 1e-6) << named.key() << "[" << i << "]";
    }
  }
}

TEST_P(AttentionPlugin, LaterTokensNeverChangeEarlierOutputs) {
  torch::manual_seed(3);
  Built b = build(GetParam().attention, GetParam().keys, 8, 2);
  test::DirectAttend ctx(*b.kernel, *b.rope);
  torch::NoGradGuard no_grad;
  auto x = torch::randn({2, 9, 8});
  auto before = b.attention->forward(x, ctx);
  for (int64_t j : {0, 4, 8}) {
    auto changed = x.clone();
    changed.select(1, j).add_(1.0);
    auto after = b.attention->forward(changed, ctx);
    if (j > 0) EXPECT_LT((after.narrow(1, 0, j) - before.narrow(1, 0, j)).abs().max().item<double>(), 1e-6);
    EXPECT_GT((after.select(1, j) - before.select(1, j)).abs().max().item<double>(), 1e-6);
  }
}

INSTANTIATE_TEST_SUITE_P(Plugins, AttentionPlugin,
                         ::testing::Values(Case{"mla_q_lora_bias", "mla", kMlaQLora},
                                           Case{"mla_plain_q", "mla", kMlaPlain},
                                           Case{"mixed_heads", "mixed_heads", kMixed}),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(Mla, HandsTheKernelMixedHeadDimsWithTheSharedRotaryKey) {
  torch::manual_seed(5);
  Built b = build("mla", kMlaQLora, 8, 2);
  test::DirectAttend ctx(*b.kernel, *b.rope);
  auto y = b.attention->forward(torch::randn({2, 5, 8}), ctx);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 5, 8}));
  EXPECT_EQ(ctx.last_q.sizes(), (std::vector<int64_t>{2, 2, 5, 7}));  // qk_nope 3 + qk_rope 4
  EXPECT_EQ(ctx.last_v.sizes(), (std::vector<int64_t>{2, 2, 5, 2}));
  EXPECT_EQ(b.attention->rope_dim(), 4);
}

TEST(Mla, ParameterCountMatchesDeepSeekV3) {
  // Spec check: V3's attention holds 187,107,328 parameters per layer (q_a, q_b, kv_a, kv_b, o, two norms).
  const auto& p = plugin(Slot::Attention, "mla");
  ModelDims dims;
  dims.d_model = 7168;
  dims.n_heads = 128;
  torch::NoGradGuard no_grad;
  auto options = default_options(p, {{"q_lora_rank", Value::of(1536)},
                                     {"kv_lora_rank", Value::of(512)},
                                     {"qk_nope_head_dim", Value::of(128)},
                                     {"qk_rope_head_dim", Value::of(64)},
                                     {"v_head_dim", Value::of(128)}});
  Problems problems;
  p.validate(options, dims, problems);
  EXPECT_TRUE(problems.empty());
  auto attention = p.make_attention(options, dims);
  std::map<std::string, int64_t> by_module;
  int64_t total = 0;
  for (const auto& named : attention->named_parameters()) {
    by_module[named.key().substr(0, named.key().find('.'))] += named.value().numel();
    total += named.value().numel();
  }
  EXPECT_EQ(total, 187107328);
  EXPECT_EQ(by_module["q_a_proj"], 11010048);
  EXPECT_EQ(by_module["q_b_proj"], 37748736);
  EXPECT_EQ(by_module["kv_a_proj_with_mqa"], 4128768);
  EXPECT_EQ(by_module["kv_b_proj"], 16777216);
  EXPECT_EQ(by_module["o_proj"], 117440512);
}

TEST(AttentionPlugins, ImpossibleShapesAreRecipeErrors) {
  const std::vector<std::string> base = {"model.d_model=128", "model.n_heads=4", "tokenizer.vocab_size=97"};
  auto error_of = [&](std::vector<std::string> sets) {
    sets.insert(sets.begin(), base.begin(), base.end());
    try {
      test::make_config(sets);
    } catch (const InputError& err) {
      return std::string(err.what());
    }
    return std::string();
  };
  EXPECT_NE(error_of({"attention.plugin=mla", "attention.qk_rope_head_dim=7"})
                .find("attention.qk_rope_head_dim: must be even and at least 2"),
            std::string::npos);
  EXPECT_NE(error_of({"attention.plugin=mla", "attention.kv_lora_rank=128"})
                .find("attention.kv_lora_rank: must be between 1 and d_model - 1 to compress, got 128"),
            std::string::npos);
  EXPECT_NE(error_of({"attention.plugin=mla", "attention.q_lora_rank=200"}).find("attention.q_lora_rank"),
            std::string::npos);
  EXPECT_NE(error_of({"attention.plugin=mla", "attention.v_head_dim=0"}).find("attention.v_head_dim"),
            std::string::npos);
  EXPECT_NE(error_of({"attention.plugin=mixed_heads", "attention.rope_head_dim=64"})
                .find("attention.rope_head_dim: rope_head_dim = 64 exceeds qk_head_dim = 48"),
            std::string::npos);
  EXPECT_NE(error_of({"attention.plugin=mixed_heads", "attention.rope_head_dim=5"}).find("must be even"),
            std::string::npos);
  EXPECT_NE(error_of({"rope.plugin=yarn", "rope.beta_fast=0.5"})
                .find("rope.beta_fast: must be greater than beta_slow"),
            std::string::npos);
  EXPECT_NE(error_of({"rope.plugin=rope_ntk", "rope.factor=0.5"}).find("rope.factor: must be at least 1"),
            std::string::npos);
  EXPECT_EQ(error_of({"attention.plugin=mla"}), "");
}

TEST(AttentionPlugins, ParameterBreakdownSeparatesQueryKeyValueOutputAndNorms) {
  Config c = test::make_config({"model.d_model=64", "model.n_heads=4", "model.n_layers=1",
                                "tokenizer.vocab_size=97", "attention.plugin=mla", "attention.q_lora_rank=32",
                                "attention.kv_lora_rank=16", "attention.qk_nope_head_dim=8",
                                "attention.qk_rope_head_dim=8", "attention.v_head_dim=8"});
  LanguageModel model(c);
  ParameterCounts counts = count_parameters(*model, c.dims.n_experts, c.dims.top_k);
  EXPECT_EQ(counts.attention_parts["q"], 64 * 32 + 32 * 4 * 16);  // q_a_proj, q_b_proj
  EXPECT_EQ(counts.attention_parts["kv"], 64 * (16 + 8) + 16 * 4 * (8 + 8));
  EXPECT_EQ(counts.attention_parts["output"], 4 * 8 * 64);
  EXPECT_EQ(counts.attention_parts["norms"], 32 + 16);
  EXPECT_EQ(counts.attention_parts.count("other"), 0u);
  EXPECT_EQ(attention_part("k_proj"), "kv");
  EXPECT_EQ(attention_part("o_proj"), "output");
}

// Every RoPE scaling under every attention plugin: a tiny model trains one step with finite loss.
class RopeUnderAttention : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(RopeUnderAttention, ForwardAndBackwardAreFinite) {
  auto [attention, rope] = GetParam();
  std::vector<std::string> sets = {
      "model.d_model=32",   "model.n_heads=4",         "model.n_layers=1",
      "model.seq_len=16",   "moe.experts=2",           "moe.top_k=1",
      "moe.d_ff=32",        "tokenizer.vocab_size=97", "attention.plugin=" + attention,
      "rope.plugin=" + rope};
  if (attention == "mla") sets.push_back("attention.kv_lora_rank=16");
  Config c = test::make_config(sets);
  torch::manual_seed(0);
  LanguageModel model(c);
  model->initialize(0.02);
  ForwardState state;
  // Longer than training: exercises dynamic NTK's recomputed base and YaRN past its original length.
  auto logits = model->forward(torch::randint(0, 97, {2, 40}, torch::kInt64), state);
  auto loss = logits.logsumexp(-1).mean();
  loss.backward();
  EXPECT_TRUE(std::isfinite(loss.item<double>()));
  for (const auto& p : model->named_parameters())
    if (p.value().grad().defined()) EXPECT_TRUE(p.value().grad().isfinite().all().item<bool>()) << p.key();
}

INSTANTIATE_TEST_SUITE_P(AllPairs, RopeUnderAttention,
                         ::testing::Combine(::testing::Values("mha", "mixed_heads", "mla"),
                                            ::testing::Values("rope", "rope_linear", "rope_ntk", "yarn")));
