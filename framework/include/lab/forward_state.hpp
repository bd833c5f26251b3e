// Side outputs of one forward pass: auxiliary losses to add to the objective, and statistics to log.
#pragma once

#include <torch/types.h>

#include <map>
#include <string>

namespace lab {

struct ForwardState {
  bool training = false;
  // Summed into the training objective (each already weighted by its plugin).
  std::map<std::string, torch::Tensor> aux_losses;
  // Averaged over the steps between two log lines and written to metrics.jsonl.
  std::map<std::string, double> stats;
  // Set inspect_layer to a block index before a forward pass to receive that block's sparse-slot
  // Sparse::inspect tensors in `inspected` (tools that draw attention pictures).
  int64_t inspect_layer = -1;
  std::map<std::string, torch::Tensor> inspected;

  void add_loss(const std::string& name, const torch::Tensor& loss);
  void add_stat(const std::string& name, double value) { stats[name] += value; }
};

}  // namespace lab
