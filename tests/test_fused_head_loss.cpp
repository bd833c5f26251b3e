// The fused tied head + cross-entropy against logits and the in-place cross-entropy: value and the
// gradients of the hidden states and the head weight, over chunk boundaries.
#include "train/cross_entropy.hpp"
#include "train/fused_head_loss.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

TEST(FusedHeadLoss, MatchesLogitsThenCrossEntropyInValueAndGradients) {
  // 1 row; fewer rows than a chunk; several chunks with a ragged last one; a wide vocabulary.
  for (const auto& [rows, vocab, dim] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {1, 5, 3}, {37, 53, 16}, {600, 41, 8}, {300, 8192, 32}}) {
    torch::manual_seed(rows + vocab);
    auto h = torch::randn({rows, dim}), w = torch::randn({vocab, dim}) * 0.5;
    auto targets = torch::randint(vocab, {rows}, torch::kInt64);
    auto h1 = h.clone().requires_grad_(true), w1 = w.clone().requires_grad_(true);
    auto h2 = h.clone().requires_grad_(true), w2 = w.clone().requires_grad_(true);
    auto fused = lab::fused_head_cross_entropy(h1, w1, targets);
    auto reference = lab::training_cross_entropy(h2.matmul(w2.t()), targets);
    EXPECT_NEAR(fused.item<double>(), reference.item<double>(),
                1e-5 * std::max(1.0, reference.item<double>()))
        << rows << "x" << vocab;
    (fused * 0.3).backward();
    (reference * 0.3).backward();
    EXPECT_LT((h1.grad() - h2.grad()).abs().max().item<double>(), 1e-5) << rows << "x" << vocab;
    EXPECT_LT((w1.grad() - w2.grad()).abs().max().item<double>(), 1e-5) << rows << "x" << vocab;
  }
}

TEST(FusedHeadLoss, ATargetOutsideTheVocabularyIsAnError) {
  auto h = torch::randn({4, 3}), w = torch::randn({5, 3});
  EXPECT_THROW(lab::fused_head_cross_entropy(h, w, torch::tensor({0, 1, 5, 2}, torch::kInt64)), c10::Error);
}
