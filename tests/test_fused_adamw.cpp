// The one-pass AdamW update against torch's own step: parameters, moments, step counts, skipped
// parameters and a save/load in between.
#include "test_support.hpp"
#include "train/fused_adamw.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {

std::unique_ptr<torch::optim::AdamW> make_adamw(const std::vector<torch::Tensor>& params) {
  auto decayed = std::make_unique<torch::optim::AdamWOptions>(3e-2);
  decayed->betas(std::make_tuple(0.8, 0.95)).eps(1e-7).weight_decay(0.1);
  auto plain = std::make_unique<torch::optim::AdamWOptions>(1e-2);
  plain->weight_decay(0.0);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{params[0], params[1]}, std::move(decayed));
  groups.emplace_back(std::vector<torch::Tensor>{params[2]}, std::move(plain));
  return std::make_unique<torch::optim::AdamW>(std::move(groups), torch::optim::AdamWOptions(1e-3));
}

std::vector<torch::Tensor> copies(const std::vector<torch::Tensor>& source) {
  std::vector<torch::Tensor> out;
  for (const auto& t : source) out.push_back(t.detach().clone().requires_grad_(true));
  return out;
}

}  // namespace

TEST(FusedAdamW, MatchesTorchsStepOverSeveralStepsAndAResume) {
  torch::manual_seed(11);
  const std::vector<torch::Tensor> start = {torch::randn({37, 5}), torch::randn({70001}), torch::randn({3})};
  auto ours = copies(start), theirs = copies(start);
  auto fused = make_adamw(ours), reference = make_adamw(theirs);
  for (int step = 0; step < 5; ++step) {
    for (size_t i = 0; i < start.size(); ++i) {
      // The last parameter has no gradient at step 2: both must skip it, step count included.
      if (step == 2 && i == 2) {
        ours[i].mutable_grad() = torch::Tensor();
        theirs[i].mutable_grad() = torch::Tensor();
        continue;
      }
      auto g = torch::randn_like(start[i]) * (1.0 + step);
      ours[i].mutable_grad() = g.clone();
      theirs[i].mutable_grad() = g.clone();
    }
    ASSERT_TRUE(lab::fused_adamw_step(*fused));
    reference->step();
    if (step == 3) {  // a checkpoint round trip in the middle keeps the fused state usable
      const auto file = lab::test::temp_dir("fused-adamw") / "opt.pt";
      torch::save(*fused, file.string());
      auto reloaded = make_adamw(ours);
      torch::load(*reloaded, file.string());
      fused = std::move(reloaded);
    }
    for (size_t i = 0; i < start.size(); ++i)
      EXPECT_LT((ours[i] - theirs[i]).abs().max().item<double>(), 2e-6) << "step " << step << " param " << i;
  }
}

TEST(FusedAdamW, LeavesUnsupportedParametersToTorch) {
  auto p = torch::randn({4}, torch::kFloat64).requires_grad_(true);
  p.mutable_grad() = torch::ones({4}, torch::kFloat64);
  torch::optim::AdamW adamw({p}, torch::optim::AdamWOptions(1e-2));
  const auto before = p.detach().clone();
  EXPECT_FALSE(lab::fused_adamw_step(adamw));
  EXPECT_TRUE(torch::equal(p.detach(), before));
}
