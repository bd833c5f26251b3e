// Optimizers the trainer drives: AdamW, and Muon (orthogonalised momentum for matrices, AdamW for the rest).
#pragma once

#include <torch/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace lab {

struct OptimizerSettings {
  std::string name = "adamw";  // "adamw" or "muon"
  double lr = 1e-3;            // AdamW learning rate
  double weight_decay = 0.1;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double muon_lr = 0.02;  // Muon's learning rate for matrix parameters
  double muon_momentum = 0.95;
  int64_t muon_ns_steps = 5;  // Newton–Schulz iterations
};

using NamedParameter = std::pair<std::string, torch::Tensor>;

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // Parameters whose .grad() is undefined (frozen stages) are skipped entirely.
  virtual void step() = 0;
  virtual void zero_grad() = 0;
  // Every learning rate becomes its base value (from the settings) times `factor`.
  virtual void set_lr_factor(double factor) = 0;
  virtual void save(const std::string& file) = 0;
  virtual void load(const std::string& file) = 0;
};

// Muon takes parameters of two or more dims (3-D expert stacks are one matrix per expert), except
// the embedding ("embed" in the name); everything else goes to AdamW.
std::unique_ptr<Optimizer> make_optimizer(const OptimizerSettings& settings,
                                          const std::vector<NamedParameter>& parameters);

// Newton–Schulz iteration towards the nearest semi-orthogonal matrix; batched over leading dims.
torch::Tensor newton_schulz_orthogonalize(const torch::Tensor& g, int64_t steps);

}  // namespace lab
