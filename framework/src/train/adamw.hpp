// AdamW with decoupled weight decay on matrices only; also the fallback inside Muon.
#pragma once

#include "train/optimizer.hpp"

#include <torch/optim/adamw.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <memory>
#include <string>
#include <vector>

namespace lab {

class AdamWOptimizer : public Optimizer {
 public:
  // `lr` is the base learning rate that set_lr_factor scales.
  AdamWOptimizer(const OptimizerSettings& settings, double lr, const std::vector<NamedParameter>& parameters);

  void step() override;
  void zero_grad() override;
  void set_lr_factor(double factor) override;
  void save(const std::string& file) override;
  void load(const std::string& file) override;

  // Archive forms, so that Muon can nest this state inside its own file.
  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

  bool empty() const { return parameters_.empty(); }

 private:
  double base_lr_;
  double factor_ = 1.0;
  std::vector<torch::Tensor> parameters_;
  // Null when there is nothing to optimise: torch rejects optimisers without parameters on some versions.
  std::unique_ptr<torch::optim::AdamW> adamw_;
};

// Drops every gradient (set to undefined), so that a parameter frozen after this point is skipped.
void clear_gradients(const std::vector<torch::Tensor>& parameters);

// Device of the first parameter, so saved state comes back where the parameters live.
c10::optional<torch::Device> parameter_device(const std::vector<torch::Tensor>& parameters);

}  // namespace lab
