#include "train/update_step.hpp"

#include <torch/torch.h>

#include <vector>

namespace lab {

void apply_update(LanguageModel& model, Optimizer& optimizer, double grad_clip) {
  std::vector<torch::Tensor> with_grad;
  for (auto& p : model->parameters())
    if (p.grad().defined()) with_grad.push_back(p);
  if (grad_clip > 0 && !with_grad.empty()) torch::nn::utils::clip_grad_norm_(with_grad, grad_clip);
  optimizer.step();
  model->after_step();
}

}  // namespace lab
