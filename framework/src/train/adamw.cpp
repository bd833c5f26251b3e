#include "train/adamw.hpp"

#include "train/archive_io.hpp"
#include "train/fused_adamw.hpp"

#include <torch/serialize.h>

#include <tuple>
#include <utility>

namespace lab {

namespace {

// Name of our own entry in the archive, beside torch's optimizer state.
const char* const kFactorKey = "lab_lr_factor";

}  // namespace

void clear_gradients(const std::vector<torch::Tensor>& parameters) {
  for (const auto& p : parameters) {
    if (p.grad().defined()) {
      // A shallow copy of the tensor shares the autograd metadata, so this resets the real gradient.
      torch::Tensor handle = p;
      handle.mutable_grad() = torch::Tensor();
    }
  }
}

c10::optional<torch::Device> parameter_device(const std::vector<torch::Tensor>& parameters) {
  if (parameters.empty()) return c10::nullopt;
  return parameters.front().device();
}

AdamWOptimizer::AdamWOptimizer(const OptimizerSettings& settings, double lr,
                               const std::vector<NamedParameter>& parameters)
    : base_lr_(lr) {
  // Norm gains and biases are not decayed: shrinking them towards zero only hurts.
  std::vector<torch::Tensor> decayed;
  std::vector<torch::Tensor> not_decayed;
  for (const auto& named : parameters) {
    parameters_.push_back(named.second);
    (named.second.dim() >= 2 ? decayed : not_decayed).push_back(named.second);
  }
  if (parameters_.empty()) return;

  auto options = [&](double weight_decay) {
    auto o = std::make_unique<torch::optim::AdamWOptions>(lr);
    o->betas(std::make_tuple(settings.beta1, settings.beta2)).eps(settings.eps).weight_decay(weight_decay);
    return o;
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!decayed.empty()) groups.emplace_back(decayed, options(settings.weight_decay));
  if (!not_decayed.empty()) groups.emplace_back(not_decayed, options(0.0));
  torch::optim::AdamWOptions defaults(lr);
  defaults.betas(std::make_tuple(settings.beta1, settings.beta2)).eps(settings.eps);
  adamw_ = std::make_unique<torch::optim::AdamW>(std::move(groups), defaults);
}

void AdamWOptimizer::step() {
  // Both skip parameters whose gradient is undefined; the fused pass covers CPU fp32 training.
  if (adamw_ && !fused_adamw_step(*adamw_)) adamw_->step();
}

void AdamWOptimizer::zero_grad() { clear_gradients(parameters_); }

void AdamWOptimizer::set_lr_factor(double factor) {
  factor_ = factor;
  if (!adamw_) return;
  for (auto& group : adamw_->param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(base_lr_ * factor);
  }
}

void AdamWOptimizer::save(torch::serialize::OutputArchive& archive) const {
  archive.write(kFactorKey, torch::tensor(factor_, torch::kFloat64));
  if (!adamw_) return;
  torch::serialize::OutputArchive inner(archive.compilation_unit());
  adamw_->save(inner);
  archive.write("adamw", inner);
}

void AdamWOptimizer::load(torch::serialize::InputArchive& archive) {
  torch::Tensor factor;
  archive.read(kFactorKey, factor);
  if (adamw_) {
    torch::serialize::InputArchive inner;
    archive.read("adamw", inner);
    adamw_->load(inner);
  }
  // torch restores the moments but keeps the current learning rates; restore the schedule position too.
  set_lr_factor(factor.item<double>());
}

void AdamWOptimizer::save(const std::string& file) {
  torch::serialize::OutputArchive archive;
  save(archive);
  save_archive(archive, file);
}

void AdamWOptimizer::load(const std::string& file) {
  torch::serialize::InputArchive archive;
  load_archive(archive, file, parameter_device(parameters_));
  load(archive);
}

}  // namespace lab
