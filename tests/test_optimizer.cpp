#include "train/optimizer.hpp"

#include <lab/error.hpp>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

namespace {

// Singular values of every matrix in `x` (batched over leading dims).
torch::Tensor singular_values(const torch::Tensor& x) { return torch::linalg_svdvals(x.to(torch::kFloat64)); }

void expect_near_orthogonal(const torch::Tensor& g) {
  const torch::Tensor o = lab::newton_schulz_orthogonalize(g, 5);
  ASSERT_EQ(o.sizes(), g.sizes());
  const torch::Tensor s = singular_values(o);
  EXPECT_GT(s.min().item<double>(), 0.5) << s;
  EXPECT_LT(s.max().item<double>(), 1.5) << s;
}

// A small model-shaped parameter set: an embedding, matrices, a 3-D expert stack and 1-D gains.
std::vector<lab::NamedParameter> make_parameters(uint64_t seed) {
  torch::manual_seed(seed);
  auto param = [](torch::Tensor t) { return t.set_requires_grad(true); };
  return {{"tok_embed.weight", param(torch::randn({16, 8}))},
          {"block.attn.w_qkv", param(torch::randn({24, 8}))},
          {"block.mlp.w_in", param(torch::randn({8, 32}))},
          {"block.experts.w", param(torch::randn({3, 8, 12}))},
          {"block.norm.weight", param(torch::ones({8}))},
          {"block.mlp.bias", param(torch::zeros({32}))}};
}

std::vector<lab::NamedParameter> copy_parameters(const std::vector<lab::NamedParameter>& from) {
  std::vector<lab::NamedParameter> out;
  for (const auto& [name, t] : from) out.emplace_back(name, t.detach().clone().set_requires_grad(true));
  return out;
}

// A deterministic loss touching every parameter, so each one gets a gradient.
torch::Tensor loss_of(const std::vector<lab::NamedParameter>& params) {
  torch::Tensor loss = torch::zeros({}, torch::kFloat32);
  int i = 1;
  for (const auto& [name, t] : params) {
    loss = loss + (t - 0.1 * i).square().sum() + 0.01 * i * t.sum();
    ++i;
  }
  return loss;
}

void train_steps(lab::Optimizer& opt, const std::vector<lab::NamedParameter>& params, int steps) {
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    loss_of(params).backward();
    opt.step();
  }
}

lab::OptimizerSettings settings_for(const std::string& name) {
  lab::OptimizerSettings s;
  s.name = name;
  s.lr = 1e-2;
  s.muon_lr = 0.02;
  return s;
}

// A file name unique to the running test (parameterised names contain '/').
std::filesystem::path temp_file(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string id = std::string(info->test_suite_name()) + "-" + info->name();
  for (char& ch : id) {
    if (ch == '/') ch = '_';
  }
  return std::filesystem::temp_directory_path() /
         (name + "-" + std::to_string(::getpid()) + "-" + id + ".pt");
}

class EveryOptimizer : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST(NewtonSchulz, TallWideAndBatchedInputsBecomeNearlyOrthogonal) {
  torch::manual_seed(0);
  expect_near_orthogonal(torch::randn({64, 32}));
  expect_near_orthogonal(torch::randn({32, 64}));
  expect_near_orthogonal(torch::randn({4, 24, 40}));
  expect_near_orthogonal(torch::randn({4, 40, 24}));
}

TEST(NewtonSchulz, KeepsDtypeAndHandlesBadlyScaledInput) {
  torch::manual_seed(1);
  // Scale must not matter: the input is normalised first.
  const torch::Tensor g = torch::randn({32, 16}, torch::kFloat64) * 1e4;
  const torch::Tensor o = lab::newton_schulz_orthogonalize(g, 5);
  EXPECT_EQ(o.scalar_type(), torch::kFloat64);
  const torch::Tensor s = singular_values(o);
  EXPECT_GT(s.min().item<double>(), 0.5);
  EXPECT_LT(s.max().item<double>(), 1.5);
}

TEST(NewtonSchulz, ZeroInputGivesZeroNotNan) {
  // A matrix whose gradient vanished must not poison the parameters.
  const torch::Tensor o = lab::newton_schulz_orthogonalize(torch::zeros({2, 8, 4}), 5);
  EXPECT_TRUE(torch::equal(o, torch::zeros({2, 8, 4})));
}

TEST(Muon, DecreasesAQuadraticLoss) {
  torch::manual_seed(2);
  // Small enough that a few steps of unit-spectral-norm updates cover a good part of the distance.
  const torch::Tensor target = 0.1 * torch::randn({16, 16});
  std::vector<lab::NamedParameter> params = {{"w", torch::zeros({16, 16}).set_requires_grad(true)}};
  auto opt = lab::make_optimizer(settings_for("muon"), params);
  auto loss = [&] { return (params[0].second - target).square().sum(); };
  const double initial = loss().item<double>();
  double previous = initial;
  for (int step = 0; step < 5; ++step) {
    opt->zero_grad();
    loss().backward();
    opt->step();
    const double now = loss().item<double>();
    EXPECT_LT(now, previous) << "step " << step;
    previous = now;
  }
  EXPECT_LT(previous, 0.75 * initial);
}

TEST_P(EveryOptimizer, SkipsParametersWithoutGradient) {
  auto params = make_parameters(3);
  auto opt = lab::make_optimizer(settings_for(GetParam()), params);
  train_steps(*opt, params, 1);  // every parameter has optimiser state now

  // Freeze half: only the even-indexed parameters take part in the next loss.
  std::vector<torch::Tensor> before;
  for (const auto& p : params) before.push_back(p.second.detach().clone());
  opt->zero_grad();
  torch::Tensor loss = torch::zeros({});
  for (size_t i = 0; i < params.size(); i += 2) loss = loss + params[i].second.square().sum();
  loss.backward();
  for (size_t i = 1; i < params.size(); i += 2) ASSERT_FALSE(params[i].second.grad().defined());
  opt->step();

  for (size_t i = 0; i < params.size(); ++i) {
    const bool moved = !torch::equal(params[i].second.detach(), before[i]);
    EXPECT_EQ(moved, i % 2 == 0) << params[i].first;
  }
}

TEST_P(EveryOptimizer, ZeroLearningRateFactorLeavesParametersUnchanged) {
  auto params = make_parameters(4);
  auto opt = lab::make_optimizer(settings_for(GetParam()), params);
  std::vector<torch::Tensor> before;
  for (const auto& p : params) before.push_back(p.second.detach().clone());
  opt->set_lr_factor(0.0);
  train_steps(*opt, params, 2);
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(torch::equal(params[i].second.detach(), before[i])) << params[i].first;
  }
  // And the factor really scales: back at 1 the parameters move.
  opt->set_lr_factor(1.0);
  train_steps(*opt, params, 1);
  EXPECT_FALSE(torch::equal(params[1].second.detach(), before[1]));
}

TEST_P(EveryOptimizer, SaveAndLoadRoundTripExactly) {
  auto params = make_parameters(5);
  auto opt = lab::make_optimizer(settings_for(GetParam()), params);
  opt->set_lr_factor(0.5);
  train_steps(*opt, params, 3);
  const auto file = temp_file("lab-optimizer");
  opt->save(file.string());

  auto copies = copy_parameters(params);
  auto resumed = lab::make_optimizer(settings_for(GetParam()), copies);
  resumed->load(file.string());  // restores the learning-rate factor as well
  std::filesystem::remove(file);

  train_steps(*opt, params, 2);
  train_steps(*resumed, copies, 2);
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(torch::equal(params[i].second.detach(), copies[i].second.detach())) << params[i].first;
  }
}

TEST_P(EveryOptimizer, FreshStateDiffersFromLoadedState) {
  // Guards the round-trip test: without the saved state the continuation must differ.
  auto params = make_parameters(6);
  auto opt = lab::make_optimizer(settings_for(GetParam()), params);
  train_steps(*opt, params, 3);
  auto copies = copy_parameters(params);
  auto fresh = lab::make_optimizer(settings_for(GetParam()), copies);
  train_steps(*opt, params, 2);
  train_steps(*fresh, copies, 2);
  bool any_differs = false;
  for (size_t i = 0; i < params.size(); ++i) {
    any_differs = any_differs || !torch::equal(params[i].second.detach(), copies[i].second.detach());
  }
  EXPECT_TRUE(any_differs);
}

INSTANTIATE_TEST_SUITE_P(Optimizers, EveryOptimizer, ::testing::Values("adamw", "muon"));

TEST(MakeOptimizer, UnknownNameThrowsInputErrorListingChoices) {
  auto params = make_parameters(7);
  lab::OptimizerSettings s;
  s.name = "sgd";
  try {
    lab::make_optimizer(s, params);
    FAIL() << "expected lab::InputError";
  } catch (const lab::InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("sgd"), std::string::npos) << message;
    EXPECT_NE(message.find("adamw"), std::string::npos) << message;
    EXPECT_NE(message.find("muon"), std::string::npos) << message;
  }
}

TEST(MakeOptimizer, HandlesParameterSetsWithOnlyOneKind) {
  // Only 1-D parameters (Muon has no matrices, AdamW no decayed group), and nothing at all.
  std::vector<lab::NamedParameter> gains = {{"norm.weight", torch::ones({4}).set_requires_grad(true)}};
  for (const char* name : {"adamw", "muon"}) {
    auto opt = lab::make_optimizer(settings_for(name), gains);
    train_steps(*opt, gains, 1);
    auto empty = lab::make_optimizer(settings_for(name), {});
    empty->step();
    empty->set_lr_factor(0.5);
  }
}
