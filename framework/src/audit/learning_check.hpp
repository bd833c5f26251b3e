// The learning check: train the model briefly on tokens drawn independently and uniformly from V
// symbols. No causal model can predict such a token better than ln V nats; a model that sees later
// positions learns to copy the next token and drops far below.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace lab {

struct Config;

// A validation loss more than this below ln V fails. With the default 16384 validation tokens the
// standard error of the loss of a near-uniform model is under 0.001 nats, so the margin is dozens of
// standard errors: a pass is not luck and a fail is not noise.
constexpr double kLearningMargin = 0.05;

struct LearningOptions {
  int64_t vocab = 32;       // alphabet size V
  int64_t steps = 200;      // optimizer steps, each on fresh tokens
  int64_t batch = 16;       // sequences per step
  int64_t val_windows = 0;  // validation sequences; 0: 16384 tokens' worth
  double lr = 3e-3;
  int64_t eval_every = 50;  // early stop once a leak shows
};

struct LearningResult {
  std::string mode;  // sparse stage mode trained in
  int64_t vocab = 0, steps = 0, val_tokens = 0;
  double uniform = 0;   // ln V
  double val_loss = 0;  // mean cross-entropy on fresh uniform tokens
  double val_loss_se = 0;
  double accuracy = 0;  // next-token accuracy; 1/V for a causal model
  bool passed() const { return val_loss >= uniform - kLearningMargin; }
};

LearningResult learning_check(const Config& config, const std::string& mode, const LearningOptions& options);
nlohmann::json learning_json(const LearningResult& result);

}  // namespace lab
