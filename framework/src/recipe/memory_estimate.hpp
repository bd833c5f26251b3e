// A lower estimate of the memory a training run needs, so a shape that cannot fit on this machine is
// a recipe error naming the key, not an allocator's failure (or the OOM killer) later. Only what any
// kernel must keep is counted: no recipe that fits is refused.
#pragma once

#include <lab/dims.hpp>

#include <cstdint>

namespace lab {

struct TrainingShape {
  ModelDims dims;
  int64_t shared_experts = 0;
  int64_t batch_size = 0;  // the larger of the training and evaluation batch sizes
};

// Bytes of parameters with their gradients and AdamW moments, plus what one step must keep.
double training_memory_bytes(const TrainingShape& shape);

// This machine's memory in bytes (0 when unknown).
double physical_memory_bytes();

}  // namespace lab
