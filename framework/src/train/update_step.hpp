// The update that ends a training step, shared by training and lab bench: clip the gradients that
// exist, step the optimizer, then the routers' non-gradient updates.
#pragma once

#include "model/model.hpp"
#include "train/optimizer.hpp"

#include <vector>

namespace lab {

// The parameters with a gradient, as the groups clipped apart: the language model's, then the sparse
// slot's (whose loss is its own). Parameters without a gradient (frozen this stage) are left out.
std::vector<std::vector<torch::Tensor>> clip_groups(LanguageModel& model);

// grad_clip <= 0: no clipping; else each group of clip_groups is clipped to that norm on its own.
void apply_update(LanguageModel& model, Optimizer& optimizer, double grad_clip);

}  // namespace lab
