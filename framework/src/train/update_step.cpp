#include "train/update_step.hpp"

#include <torch/torch.h>

#include <vector>

namespace lab {

std::vector<std::vector<torch::Tensor>> clip_groups(LanguageModel& model) {
  std::vector<torch::Tensor> language_model, sparse;
  for (auto& p : model->named_parameters())
    if (p.value().grad().defined())
      (parameter_group(p.key()) == "sparse" ? sparse : language_model).push_back(p.value());
  return {language_model, sparse};
}

void apply_update(LanguageModel& model, Optimizer& optimizer, double grad_clip) {
  // The sparse plugin's own loss (DSA's indexer KL) reaches only its parameters, and the language
  // model's loss never reaches them: each part is clipped by its own norm, so neither loss's
  // gradient scale shrinks the other's step.
  if (grad_clip > 0)
    for (const auto& group : clip_groups(model))
      if (!group.empty()) torch::nn::utils::clip_grad_norm_(group, grad_clip);
  optimizer.step();
  model->after_step();
}

}  // namespace lab
