// Sampling text from a trained model: temperature, top-k and a token budget, seeded for repeatability.
#pragma once

#include "model/model.hpp"

#include <cstdint>
#include <vector>

namespace lab {

struct SampleOptions {
  double temperature = 0.8;  // 0: always the most likely token
  int64_t top_k = 50;        // sample among the k most likely tokens; 0: all
  int64_t max_tokens = 100;  // new tokens at most
  uint64_t seed = 0;
  int32_t stop_token = -1;  // sampling ends after this token (e.g. end of document); -1: never
};

// Continues `prompt` (token ids, at least one) with up to max_tokens new ids; the model sees the last
// `context` tokens. Returns the new ids only. The same options give the same ids.
std::vector<int32_t> sample_tokens(LanguageModel& model, const std::vector<int32_t>& prompt, int64_t context,
                                   const SampleOptions& options);

}  // namespace lab
