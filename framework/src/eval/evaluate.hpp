// Held-out evaluation: loss, next-token accuracy and perplexity over disjoint validation windows.
#pragma once

#include "model/model.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lab {

struct EvalResult {
  double loss = 0;
  double accuracy = 0;
  double perplexity = 0;
  int64_t tokens = 0;
  std::map<std::string, double> stats;  // plugin statistics (ForwardState::add_stat), mean over batches
};

// Evaluates on up to max_batches (0: all) batches of batch_size windows; restores the model's mode.
EvalResult evaluate(LanguageModel& model, const std::vector<int32_t>& stream, int64_t seq_len,
                    int64_t batch_size, int64_t max_batches, torch::Device device);

}  // namespace lab
