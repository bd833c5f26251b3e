// Evaluates a trained run at sequence lengths other than its training length (RoPE extrapolation).
#pragma once

#include "eval/evaluate.hpp"
#include "run/load_run.hpp"

#include <filesystem>
#include <vector>

namespace lab {

struct LengthEval {
  int64_t seq_len = 0;
  EvalResult result;
};

// Evaluates `run` on its own validation split in windows of each length; `batch_size` and
// `max_batches` of 0 take the run's eval settings. Throws lab::InputError when the split is too
// short for one window. Writes <run>/eval/seq_len-<N>.json for each length.
std::vector<LengthEval> evaluate_at_lengths(LoadedRun& run, const std::vector<int64_t>& lengths,
                                            int64_t batch_size = 0, int64_t max_batches = 0);

}  // namespace lab
