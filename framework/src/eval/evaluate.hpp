// Held-out evaluation: loss, next-token accuracy and perplexity over disjoint validation windows.
#pragma once

#include "data/corpus.hpp"
#include "model/model.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace lab {

struct EvalResult {
  double loss = 0;
  double accuracy = 0;
  double perplexity = 0;
  int64_t tokens = 0;                   // predictions scored
  int64_t documents = 0;                // held-out documents with at least one scored prediction
  int64_t step = -1;                    // the optimizer step the model had reached; -1: never measured
  std::map<std::string, double> stats;  // plugin statistics (ForwardState::add_stat), mean over batches
  bool measured() const { return tokens > 0; }
};

// Which of `windows` disjoint windows to score when only `wanted` may be (wanted <= 0: all). Coverage
// first: one window holding the middle of each document, as many documents as fit, spread evenly over
// the stream; then evenly spaced further windows. Ascending, and a pure function of the split, so every
// run of a split scores the same windows and comparisons stay paired.
std::vector<int64_t> evaluation_windows(int64_t windows, int64_t seq_len,
                                        const std::vector<int64_t>& document_starts, int64_t wanted);

// One of `count` processes that share an evaluation: it scores batches index, index + count, ... and
// `sum` adds a vector of figures up over all of them, in place. With fewer batches than processes,
// each scores every batch.
struct EvalShard {
  int64_t index = 0;
  int64_t count = 1;
  std::function<void(std::vector<double>&)> sum;
};

// Evaluates up to max_batches (0: all) batches of batch_size windows chosen by evaluation_windows;
// restores the model's mode.
EvalResult evaluate(LanguageModel& model, const HeldOut& held_out, int64_t seq_len, int64_t batch_size,
                    int64_t max_batches, torch::Device device, const EvalShard& shard = {});

}  // namespace lab
