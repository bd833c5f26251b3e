// For plugins in data-parallel runs: statistics a plugin gathers over a step and acts on outside the
// gradients (a router's expert loads for its balancing bias) must agree over every rank.
#pragma once

#include <torch/types.h>

namespace lab {

// Sums `tensor` over the ranks of the data-parallel training step in progress, in place; nothing in
// one process. Every rank must call it at the same point of the step (e.g. in Router::after_step).
void sum_over_ranks(torch::Tensor& tensor);

}  // namespace lab
