// The update that ends a training step, shared by training and lab bench: clip the gradients that
// exist, step the optimizer, then the routers' non-gradient updates.
#pragma once

#include "model/model.hpp"
#include "train/optimizer.hpp"

namespace lab {

// grad_clip <= 0: no clipping. Parameters without a gradient (frozen this stage) are left out.
void apply_update(LanguageModel& model, Optimizer& optimizer, double grad_clip);

}  // namespace lab
