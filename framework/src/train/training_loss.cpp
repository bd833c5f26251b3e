#include "train/training_loss.hpp"

#include "model/component_clock.hpp"
#include "train/cross_entropy.hpp"
#include "train/fused_head_loss.hpp"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

namespace lab {

namespace {

bool autocast_on() {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  return at::autocast::is_autocast_enabled(at::kCPU) || at::autocast::is_autocast_enabled(at::kCUDA);
#else
  return at::autocast::is_cpu_enabled() || at::autocast::is_enabled();
#endif
}

}  // namespace

TrainingLoss training_loss(LanguageModel& model, const torch::Tensor& inputs, const torch::Tensor& targets,
                           ForwardState& state, ComponentClock* clock) {
  auto hidden = model->forward_hidden(inputs, state);
  auto flat = hidden.reshape({-1, hidden.size(-1)});
  auto flat_targets = targets.reshape({-1});
  const auto& weight = model->head_weight();
  if (fused_head_applies(flat, weight) && !autocast_on()) {
    ComponentClock::Scope timing(clock, "head");
    return {fused_head_cross_entropy(flat, weight, flat_targets), "head"};
  }
  torch::Tensor logits;
  {
    ComponentClock::Scope timing(clock, "head");
    logits = torch::matmul(flat, weight.t());
    if (clock) logits = clock->leave(logits, "head");
  }
  ComponentClock::Scope timing(clock, "loss");
  if (clock) logits = clock->enter(logits, "loss");
  return {training_cross_entropy(logits.to(torch::kFloat32), flat_targets), "loss"};
}

}  // namespace lab
