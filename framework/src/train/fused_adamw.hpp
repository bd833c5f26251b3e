// One pass per parameter for torch::optim::AdamW's update on CPU fp32, on the optimizer's own state
// (so checkpoints are unchanged): torch's step makes about eight passes and a temporary per tensor,
// which at 64 experts was a fifth of a training step.
#pragma once

#include <torch/optim/adamw.h>

namespace lab {

// Performs adamw.step() and returns true, or returns false without touching anything when a parameter
// needs torch's own step (not a CPU fp32 tensor, a sparse gradient, amsgrad).
bool fused_adamw_step(torch::optim::AdamW& adamw);

}  // namespace lab
