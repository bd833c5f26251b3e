// Training windows drawn from the training stream; validation windows that never overlap.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace lab {

struct Batch {
  torch::Tensor inputs;   // [B, T] int64
  torch::Tensor targets;  // [B, T] int64: inputs shifted by one token
};

// Micro-batch `micro` of optimizer step `step`: random windows whose positions depend only on
// (seed, step, micro), so a resumed run sees exactly the batches an uninterrupted one would.
Batch training_batch(const std::vector<int32_t>& stream, int64_t seq_len, int64_t batch_size, int64_t seed,
                     int64_t step, int64_t micro);

// Number of disjoint windows of seq_len predictions the stream holds.
int64_t validation_windows(const std::vector<int32_t>& stream, int64_t seq_len);
// The given windows: window w covers inputs stream[w·T, (w+1)·T) and predicts the next token of each.
Batch validation_batch(const std::vector<int32_t>& stream, int64_t seq_len,
                       const std::vector<int64_t>& windows);

}  // namespace lab
