// The deepseek router plugin against the spec's worked examples (§4.7), its bias update and balance loss.
#include "test_support.hpp"

#include <lab/error.hpp>

#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <torch/version.h>

using namespace lab;

namespace {

const PluginDescriptor& deepseek() { return test::registry().require(Slot::Router, "deepseek"); }

ModelDims dims_of(int64_t d_model, int64_t experts, int64_t top_k) {
  ModelDims dims;
  dims.d_model = d_model;
  dims.n_experts = experts;
  dims.top_k = top_k;
  return dims;
}

// A router whose gate is the identity, so token rows are the logits z.
RouterPtr identity_router(int64_t experts, int64_t top_k, const std::map<std::string, Value>& keys) {
  auto router = deepseek().make_router(default_options(deepseek(), keys), dims_of(experts, experts, top_k));
  torch::NoGradGuard no_grad;
  for (auto& p : router->parameters()) p.copy_(torch::eye(experts));
  return router;
}

torch::Tensor& bias_of(Router& router) { return *router.named_buffers().find("bias"); }

torch::Tensor logit(const std::vector<float>& probabilities) {
  auto p = torch::tensor(probabilities);
  return torch::log(p / (1 - p));
}

}  // namespace

TEST(DeepSeekRouter, WorkedExampleWithGroupLimit) {
  // Spec §4.7: 8 experts in 4 groups, 2 groups kept, top-2, route_scale 2.5.
  auto router = identity_router(8, 2,
                                {{"groups", Value::of(int64_t{4})},
                                 {"topk_groups", Value::of(int64_t{2})},
                                 {"route_scale", Value::of(2.5)},
                                 {"balance_alpha", Value::of(0.0)}});
  bias_of(*router).copy_(torch::tensor({0.0f, 0.3f, 0.0f, -0.6f, 0.0f, 0.0f, 0.4f, 0.0f}));
  auto z = torch::tensor({1.0f, -0.5f, 0.2f, 2.0f, 3.0f, -3.0f, 0.0f, 1.5f}).view({1, 8});
  ForwardState state;
  router->eval();
  Routing r = router->route(z, state);
  EXPECT_TRUE(torch::equal(r.experts, torch::tensor({6, 7}, torch::kInt64).view({1, 2})));
  EXPECT_NEAR(r.weights[0][0].item<double>(), 0.948713, 1e-5);
  EXPECT_NEAR(r.weights[0][1].item<double>(), 1.551287, 1e-5);
  EXPECT_FALSE(r.aux_loss.defined());
  EXPECT_NEAR(r.probs.sum().item<double>(), 1.0, 1e-6);
}

TEST(DeepSeekRouter, WorkedExampleWithoutGroupLimit) {
  auto router = identity_router(8, 2, {{"route_scale", Value::of(2.5)}, {"balance_alpha", Value::of(0.0)}});
  bias_of(*router).copy_(torch::tensor({0.0f, 0.3f, 0.0f, -0.6f, 0.0f, 0.0f, 0.4f, 0.0f}));
  auto z = torch::tensor({1.0f, -0.5f, 0.2f, 2.0f, 3.0f, -3.0f, 0.0f, 1.5f}).view({1, 8});
  ForwardState state;
  router->eval();
  Routing r = router->route(z, state);
  EXPECT_TRUE(torch::equal(r.experts, torch::tensor({4, 6}, torch::kInt64).view({1, 2})));
  EXPECT_NEAR(r.weights[0][0].item<double>(), 1.639459, 1e-5);
  EXPECT_NEAR(r.weights[0][1].item<double>(), 0.860541, 1e-5);
}

TEST(DeepSeekRouter, BiasPushesAnOverloadedExpertDownByGammaPerStep) {
  // §4.8: every token picks expert 0, so its bias falls by γ and every other expert's rises by γ.
  auto router = identity_router(4, 1, {{"bias_update_speed", Value::of(0.01)}});
  router->train();
  auto z = torch::tensor({3.0f, 0.0f, 0.0f, 0.0f}).repeat({6, 1});
  ForwardState state;
  router->route(z, state);
  router->after_step();
  auto expected = torch::tensor({-0.01f, 0.01f, 0.01f, 0.01f});
  EXPECT_TRUE(torch::allclose(bias_of(*router), expected));
  // No routing since the last step (or only evaluation): nothing moves.
  router->eval();
  router->route(z, state);
  router->after_step();
  EXPECT_TRUE(torch::allclose(bias_of(*router), expected));
}

TEST(DeepSeekRouter, BiasMovesASkewedLoadTowardBalance) {
  torch::manual_seed(5);
  auto router = identity_router(8, 2, {{"bias_update_speed", Value::of(0.01)}});
  router->train();
  // Logits skewed toward the low-numbered experts, plus per-token noise.
  auto z = torch::randn({512, 8}) * 0.5 + torch::linspace(2.0, -2.0, 8);
  auto load_cv = [&] {
    ForwardState state;
    Routing r = router->route(z, state);
    auto counts = torch::bincount(r.experts.reshape({-1}), {}, 8).to(torch::kFloat32);
    return (counts.std(false) / counts.mean()).item<double>();
  };
  const double before = load_cv();
  router->after_step();
  for (int step = 0; step < 300; ++step) {
    load_cv();
    router->after_step();
  }
  const double after = load_cv();
  EXPECT_GT(before, 1.0);
  EXPECT_LT(after, 0.25 * before);
}

TEST(DeepSeekRouter, BiasIsABufferNotATrainedParameter) {
  auto router = identity_router(4, 2, {});
  for (auto& p : router->named_parameters()) EXPECT_EQ(p.key().find("bias"), std::string::npos);
  EXPECT_EQ(router->parameters().size(), 1u);  // only the gate matrix is trained
}

TEST(DeepSeekRouter, SequenceBalanceLossMatchesHandComputedValue) {
  // Two sequences of two tokens, 4 experts, top-2, α = 0.01.
  // Sequence 1: s = [.8,.6,.4,.2] and [.9,.7,.1,.3] both pick {0, 1}: f = [2, 2, 0, 0],
  //   P = mean of s/Σs = ([.4,.3,.2,.1] + [.45,.35,.05,.15]) / 2 = [.425,.325,.125,.125]: Σ f·P = 1.5.
  // Sequence 2: picks {0, 1} then {2, 3}: f = [1, 1, 1, 1], Σ f·P = Σ P = 1.
  // Loss = α · (1.5 + 1) / 2 = 0.0125.
  auto router = identity_router(4, 2, {{"balance_alpha", Value::of(0.01)}});
  auto z = torch::stack({logit({0.8f, 0.6f, 0.4f, 0.2f}), logit({0.9f, 0.7f, 0.1f, 0.3f}),
                         logit({0.8f, 0.6f, 0.4f, 0.2f}), logit({0.1f, 0.3f, 0.9f, 0.7f})});
  ForwardState state;
  Routing r = router->route_batch(z, 2, state);
  ASSERT_TRUE(r.aux_loss.defined());
  EXPECT_NEAR(r.aux_loss.item<double>(), 0.0125, 1e-7);
  // As one sequence of four: f = [3, 3, 1, 1]/... computed the same way: counts [3,3,1,1]·4/(2·4).
  auto p = torch::tensor({0.4f + 0.45f + 0.4f + 0.05f, 0.3f + 0.35f + 0.3f + 0.15f,
                          0.2f + 0.05f + 0.2f + 0.45f, 0.1f + 0.15f + 0.1f + 0.35f}) /
           4;
  auto f = torch::tensor({3.0f, 3.0f, 1.0f, 1.0f}) * 0.5f;
  EXPECT_NEAR(router->route(z, state).aux_loss.item<double>(), 0.01 * (f * p).sum().item<double>(), 1e-7);
}

TEST(DeepSeekRouter, PerfectBalanceGivesAlpha) {
  auto router = identity_router(4, 1, {{"balance_alpha", Value::of(0.001)}});
  auto z = torch::eye(4) * 4;  // token t picks expert t
  ForwardState state;
  EXPECT_NEAR(router->route_batch(z, 4, state).aux_loss.item<double>(), 0.001, 1e-7);
}

TEST(DeepSeekRouter, GradientReachesTheGateThroughWeightsAndBalanceLoss) {
  auto router = identity_router(4, 2, {{"balance_alpha", Value::of(0.01)}});
  auto z = torch::randn({6, 4});
  ForwardState state;
  Routing r = router->route(z, state);
  (r.weights.pow(2).sum() + r.aux_loss).backward();
  auto g = router->parameters()[0].grad();
  ASSERT_TRUE(g.defined());
  EXPECT_GT(g.abs().sum().item<double>(), 0);
}

TEST(DeepSeekRouter, ValidationNamesImpossibleGroupSettings) {
  auto problems_of = [](int64_t groups, int64_t topk_groups, int64_t experts, int64_t top_k) {
    Problems problems;
    deepseek().validate(
        default_options(deepseek(), {{"groups", Value::of(groups)}, {"topk_groups", Value::of(topk_groups)}}),
        dims_of(8, experts, top_k), problems);
    return problems;
  };
  EXPECT_TRUE(problems_of(4, 2, 8, 2).empty());
  EXPECT_EQ(problems_of(3, 1, 8, 2).at(0).key, "groups");       // 3 does not divide 8
  EXPECT_EQ(problems_of(8, 2, 8, 2).at(0).key, "groups");       // one expert per group
  EXPECT_EQ(problems_of(4, 5, 8, 2).at(0).key, "topk_groups");  // more than there are
  EXPECT_EQ(problems_of(4, 1, 8, 4).at(0).key, "topk_groups");  // 2 experts cannot give top-4
  EXPECT_THROW(test::make_config({"router.plugin=deepseek", "router.groups=3"}), InputError);
}

TEST(DeepSeekRouter, RunsInFloat32UnderBfloat16Autocast) {
  torch::manual_seed(11);
  auto router = identity_router(8, 2, {});
  {
    torch::NoGradGuard no_grad;
    router->parameters()[0].normal_(0, 1);
  }
  auto x = torch::randn({16, 8});
  ForwardState state;
  Routing plain = router->route(x, state);
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCPU, true);
  Routing cast = router->route(x, state);
  at::autocast::set_autocast_enabled(at::kCPU, false);
#else
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  at::autocast::set_cpu_enabled(true);
  Routing cast = router->route(x, state);
  at::autocast::set_cpu_enabled(false);
#endif
  at::autocast::clear_cache();
  EXPECT_EQ(cast.weights.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(cast.experts, plain.experts));
  EXPECT_TRUE(torch::allclose(cast.weights, plain.weights));
}
