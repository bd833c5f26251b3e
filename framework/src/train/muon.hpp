// Muon: orthogonalised Nesterov momentum for weight matrices, AdamW for everything else.
#pragma once

#include "train/adamw.hpp"
#include "train/optimizer.hpp"

#include <string>
#include <vector>

namespace lab {

class MuonOptimizer : public Optimizer {
 public:
  MuonOptimizer(const OptimizerSettings& settings, const std::vector<NamedParameter>& parameters);

  void step() override;
  void zero_grad() override;
  void set_lr_factor(double factor) override;
  void save(const std::string& file) override;
  void load(const std::string& file) override;

  // Whether a parameter is updated by Muon rather than by the inner AdamW.
  static bool takes(const NamedParameter& parameter);

 private:
  OptimizerSettings settings_;
  double factor_ = 1.0;
  std::vector<torch::Tensor> matrices_;
  std::vector<torch::Tensor> momentum_;  // undefined until the matrix first has a gradient
  std::vector<torch::Tensor> all_;
  AdamWOptimizer adamw_;
};

}  // namespace lab
