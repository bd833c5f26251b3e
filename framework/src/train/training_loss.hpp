// The language-model loss of one batch for training and lab bench: the fused head + cross-entropy
// on CPU fp32, logits then the in-place cross-entropy elsewhere (CUDA, autocast).
#pragma once

#include "model/model.hpp"

#include <torch/types.h>

#include <string>

namespace lab {

class ComponentClock;

struct TrainingLoss {
  torch::Tensor value;          // mean token cross-entropy (aux losses not included)
  std::string backward_starts;  // the component whose backward span opens when backward() starts
};

// inputs, targets [B, T] on the model's device. With `clock`, times head and loss parts.
TrainingLoss training_loss(LanguageModel& model, const torch::Tensor& inputs, const torch::Tensor& targets,
                           ForwardState& state, ComponentClock* clock = nullptr);

}  // namespace lab
