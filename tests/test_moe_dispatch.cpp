// The MoE layer's sorted dispatch against a naive per-token loop, shared experts, capacity and load stats.
#include "model/flops.hpp"
#include "model/model.hpp"
#include "model/moe.hpp"
#include "test_support.hpp"
#include "train/cross_entropy.hpp"

#include <lab/error.hpp>

#include <gtest/gtest.h>
#include <torch/torch.h>

using namespace lab;

namespace {

// Routes every token to the experts and weights it was given, whatever the input.
class FixedRouter : public Router {
 public:
  FixedRouter(torch::Tensor experts, torch::Tensor weights) : experts_(experts), weights_(weights) {}
  Routing route(const torch::Tensor&, ForwardState&) override { return Routing{experts_, weights_, {}, {}}; }

 private:
  torch::Tensor experts_, weights_;
};

torch::Tensor swiglu(const torch::Tensor& x, const torch::Tensor& gate, const torch::Tensor& up,
                     const torch::Tensor& down) {
  return down.matmul(torch::silu(gate.matmul(x)) * up.matmul(x));
}

// y_n = Σ_k w_nk·Expert_{e_nk}(x_n) + Shared(x_n), one token at a time.
torch::Tensor naive_moe(MoE& moe, const torch::Tensor& flat, const Routing& r) {
  std::vector<torch::Tensor> rows;
  for (int64_t n = 0; n < flat.size(0); ++n) {
    auto acc = torch::zeros({flat.size(1)});
    for (int64_t j = 0; j < r.experts.size(1); ++j) {
      int64_t e = r.experts[n][j].item<int64_t>();
      acc = acc + r.weights[n][j] * swiglu(flat[n], moe->w_gate[e], moe->w_up[e], moe->w_down[e]);
    }
    if (moe->shared_w_gate.defined())
      acc = acc + swiglu(flat[n], moe->shared_w_gate, moe->shared_w_up, moe->shared_w_down);
    rows.push_back(acc);
  }
  return torch::stack(rows);
}

}  // namespace

TEST(MoEDispatch, DeepSeekRouterAndSharedExpertsMatchANaiveLoopInOutputsAndGradients) {
  Config c = test::make_config({"model.d_model=16", "moe.experts=8", "moe.top_k=2", "moe.d_ff=12",
                                "moe.shared_experts=2", "router.plugin=deepseek", "router.balance_alpha=0"});
  MoEOptions o{16, 12, 8, 2, 0.0};
  auto router = c.router.descriptor->make_router(c.router.options, c.dims);
  MoE moe(o, router);
  torch::manual_seed(7);
  for (auto& p : moe->parameters()) p.data().normal_(0, 0.3);
  moe->eval();
  auto x = torch::randn({3, 7, 16}, torch::requires_grad());
  ForwardState state;
  auto out = moe->forward(x, state, "");
  ForwardState s2;
  Routing r = router->route(x.reshape({-1, 16}), s2);
  auto naive = naive_moe(moe, x.reshape({-1, 16}), r).view_as(out);
  EXPECT_LT((out - naive).abs().max().item<double>(), 1e-5);

  std::vector<torch::Tensor> wrt = {x,
                                    moe->w_gate,
                                    moe->w_up,
                                    moe->w_down,
                                    moe->shared_w_gate,
                                    moe->shared_w_down,
                                    router->parameters()[0]};
  auto g1 = torch::autograd::grad({out.pow(2).sum()}, wrt);
  auto g2 = torch::autograd::grad({naive.pow(2).sum()}, wrt);
  for (size_t n = 0; n < wrt.size(); ++n)
    EXPECT_LT((g1[n] - g2[n]).abs().max().item<double>(), 1e-4) << "gradient " << n;
}

TEST(MoEDispatch, SharedExpertsSeeEveryToken) {
  // Routed experts output zero (w_down = 0), so whatever is left comes from the shared experts alone.
  auto experts = torch::zeros({10, 1}, torch::kInt64);
  MoE moe(MoEOptions{8, 6, 3, 1, 0.0}, std::make_shared<FixedRouter>(experts, torch::ones({10, 1})));
  torch::manual_seed(2);
  for (auto& p : moe->parameters()) p.data().normal_(0, 0.5);
  moe->w_down.data().zero_();
  auto x = torch::randn({2, 5, 8});
  ForwardState state;
  auto out = moe->forward(x, state, "").reshape({10, 8});
  auto flat = x.reshape({10, 8});
  for (int64_t n = 0; n < 10; ++n) {
    auto expected = swiglu(flat[n], moe->shared_w_gate, moe->shared_w_up, moe->shared_w_down);
    EXPECT_GT(out[n].abs().sum().item<double>(), 0) << "token " << n;
    EXPECT_TRUE(torch::allclose(out[n], expected, 1e-5, 1e-6)) << "token " << n;
  }
  EXPECT_EQ(moe->shared_w_gate.size(0), 6);  // one expert of width 1 x d_ff
}

TEST(MoEDispatch, CapacityDropsTheLatestTokensOfAnOverloadedExpert) {
  EXPECT_EQ(expert_capacity(0.0, 16, 4), 16);
  EXPECT_EQ(expert_capacity(1.0, 16, 4), 4);
  EXPECT_EQ(expert_capacity(1.25, 16, 4), 5);
  // 8 tokens, top-1, 4 experts, capacity 1.0 -> 2 per expert. Tokens 0..5 go to expert 0, 6..7 to 3.
  auto experts = torch::tensor({0, 0, 0, 0, 0, 0, 3, 3}, torch::kInt64).view({8, 1});
  MoE moe(MoEOptions{4, 5, 4, 0, 1.0}, std::make_shared<FixedRouter>(experts, torch::ones({8, 1})));
  torch::manual_seed(4);
  for (auto& p : moe->parameters()) p.data().normal_(0, 0.5);
  auto x = torch::randn({1, 8, 4});
  ForwardState state;
  auto out = moe->forward(x, state, "moe.").reshape({8, 4});
  auto flat = x.reshape({8, 4});
  for (int64_t n : {0, 1, 6, 7}) {
    int64_t e = experts[n][0].item<int64_t>();
    EXPECT_TRUE(
        torch::allclose(out[n], swiglu(flat[n], moe->w_gate[e], moe->w_up[e], moe->w_down[e]), 1e-5, 1e-6))
        << "token " << n;
  }
  for (int64_t n = 2; n < 6; ++n) EXPECT_EQ(out[n].abs().sum().item<double>(), 0.0) << "token " << n;
  EXPECT_DOUBLE_EQ(state.stats.at("moe.dropped"), 0.5);
  EXPECT_DOUBLE_EQ(state.stats.at("moe.tokens.e0"), 6.0);  // demand, before dropping
  // Without a capacity nothing is dropped.
  MoE unlimited(MoEOptions{4, 5, 4, 0, 0.0}, std::make_shared<FixedRouter>(experts, torch::ones({8, 1})));
  ForwardState s2;
  unlimited->forward(x, s2, "moe.");
  EXPECT_EQ(s2.stats.count("moe.dropped"), 0u);
}

TEST(MoEDispatch, LoadStatisticsPerExpert) {
  auto experts = torch::tensor({0, 1, 0, 2, 0, 1, 0, 2}, torch::kInt64).view({4, 2});
  MoE moe(MoEOptions{4, 5, 4, 0, 0.0}, std::make_shared<FixedRouter>(experts, torch::full({4, 2}, 0.5)));
  for (auto& p : moe->parameters()) p.data().normal_(0, 0.5);
  ForwardState state;
  moe->forward(torch::randn({1, 4, 4}), state, "moe.layer0.");
  // Counts [4, 2, 2, 0]: mean 2, std sqrt((4+0+0+4)/4) = sqrt(2), CV = sqrt(2)/2.
  EXPECT_DOUBLE_EQ(state.stats.at("moe.layer0.tokens.e0"), 4.0);
  EXPECT_DOUBLE_EQ(state.stats.at("moe.layer0.tokens.e3"), 0.0);
  EXPECT_NEAR(state.stats.at("moe.layer0.load_cv"), std::sqrt(2.0) / 2, 1e-12);
  EXPECT_EQ(state.stats.count("moe.layer0.entropy"), 0u);  // this router gives no distribution
}

TEST(MoEDispatch, EveryRouterLogsEntropyAndLoadThroughTheModel) {
  for (const char* router : {"router.plugin=topk", "router.plugin=deepseek"}) {
    Config c =
        test::make_config({"model.d_model=16", "model.n_heads=2", "model.n_layers=2", "model.seq_len=8",
                           "moe.experts=4", "moe.top_k=2", "moe.d_ff=8", "tokenizer.vocab_size=64", router});
    LanguageModel model(c);
    model->initialize(0.02);
    ForwardState state;
    model->forward(torch::randint(64, {2, 8}), state);
    for (const char* layer : {"moe.layer0.", "moe.layer1."}) {
      const std::string prefix = layer;
      double tokens = 0;
      for (int e = 0; e < 4; ++e) tokens += state.stats.at(prefix + "tokens.e" + std::to_string(e));
      EXPECT_EQ(tokens, 2 * 8 * 2) << router;
      const double entropy = state.stats.at(prefix + "entropy");
      EXPECT_GT(entropy, 0.0) << router;
      EXPECT_LE(entropy, std::log(4.0) + 1e-6) << router;
      EXPECT_GE(state.stats.at(prefix + "load_cv"), 0.0) << router;
    }
  }
}

TEST(MoEDispatch, ModelFlopsPerTokenByHand) {
  Config c = test::make_config({"model.d_model=32", "model.n_heads=4", "model.n_layers=2", "model.seq_len=16",
                                "moe.experts=4", "moe.top_k=2", "moe.d_ff=48", "moe.shared_experts=1",
                                "tokenizer.vocab_size=97"});
  LanguageModel model(c);
  const double d = 32, f = 48, e = 4, k = 2, layers = 2, v = 97, t = 16;
  // Per layer: q, k, v, o (4·d²), router (e·d), routed experts (k of e, 3·d·f each), shared (3·d·f).
  const double matmul = v * d + layers * (4 * d * d + e * d + k * 3 * d * f + 3 * d * f);
  FlopsPerToken flops = model_flops_per_token(*model, c.dims);
  EXPECT_DOUBLE_EQ(flops.matmul_params, matmul);
  EXPECT_DOUBLE_EQ(flops.forward, 2 * matmul + 4 * layers * t * d);
  EXPECT_DOUBLE_EQ(flops.training, 3 * flops.forward);
  // Shared experts count as active for every token.
  ParameterCounts counts = count_parameters(*model, 4, 2);
  EXPECT_EQ(counts.total - counts.active, static_cast<int64_t>(layers * (e - k) * 3 * d * f));
}

TEST(MoEDispatch, RecipeKeysAreValidated) {
  EXPECT_THROW(test::make_config({"moe.shared_experts=-1"}), InputError);
  EXPECT_THROW(test::make_config({"moe.capacity_factor=-0.5"}), InputError);
  EXPECT_NO_THROW(test::make_config({"moe.shared_experts=1", "moe.capacity_factor=1.25"}));
}

TEST(MoEDispatch, TrainingCrossEntropyEqualsTorchsInValueAndGradient) {
  // fp32 CPU rows take the vectorised row kernels (odd widths leave scalar tails; a wide spread of
  // logits exercises exp's underflow); double goes through LibTorch operations.
  struct Case {
    int64_t rows, width;
    double spread;
    torch::Dtype dtype;
  };
  for (const auto& c : {Case{37, 53, 2.0, torch::kFloat32}, Case{6, 8192, 40.0, torch::kFloat32},
                        Case{9, 7, 1.0, torch::kFloat32}, Case{7, 11, 3.0, torch::kFloat64}}) {
    torch::manual_seed(c.rows);
    auto base = torch::randn({c.rows, c.width}, c.dtype) * c.spread;
    auto targets = torch::randint(c.width, {c.rows}, torch::kInt64);
    auto a = base.clone().requires_grad_(true), b = base.clone().requires_grad_(true);
    auto expected = torch::nn::functional::cross_entropy(a * 2.0, targets);
    auto got = training_cross_entropy(b * 2.0, targets);
    EXPECT_NEAR(got.item<double>(), expected.item<double>(), 1e-5 * std::max(1.0, expected.item<double>()))
        << c.rows << "x" << c.width;
    (expected * 0.7).backward();
    (got * 0.7).backward();
    EXPECT_LT((a.grad() - b.grad()).abs().max().item<double>(), 1e-6) << c.rows << "x" << c.width;
  }
}
