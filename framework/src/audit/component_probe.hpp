// The exact causality probe of one component: perturb every input at one position j of one batch row
// and check that nothing before j moves: outputs, the gradients of a loss on positions before j with
// respect to the inputs (zero at j and later) and to the parameters.
#pragma once

#include "audit/change_log.hpp"

#include <torch/nn/module.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace lab {

// Where and how often to probe: each position j in its own batch row, in training and eval mode,
// once per initialisation.
struct ProbePlan {
  int64_t batch = 2;
  std::vector<int64_t> positions;  // j values, each in [1, T)
  std::vector<double> init_stds;   // one random initialisation per entry
  // Positions 1, T/4, T/2 and T-1; two initialisations, init_std and a wider 1/sqrt(d_model) that
  // moves attention far from uniform.
  static ProbePlan full(int64_t seq_len, double init_std, int64_t d_model);
  // One initialisation, positions 1, T/2 and T-1: the check every training run makes at its start.
  static ProbePlan quick(int64_t seq_len, double init_std);
  std::string where(int64_t row, int64_t j, bool training, size_t init) const;
};

using NamedOutputs = std::vector<std::pair<std::string, torch::Tensor>>;

struct Component {
  std::shared_ptr<torch::nn::Module> module;       // parameters and mode; nullptr for kernels and RoPE
  std::vector<std::vector<int64_t>> input_shapes;  // each [B, T, ...]
  std::vector<std::string> input_names;            // one per input shape, for the report
  // Outputs laid out [B, T, ...] for inputs laid out as input_shapes.
  std::function<NamedOutputs(const std::vector<torch::Tensor>& inputs, bool training)> forward;
};

// Builds a fresh component; the probe seeds the generator before and initialises the parameters after.
using ComponentFactory = std::function<Component()>;

ChangeLog probe_component(const ComponentFactory& make, const ProbePlan& plan);

// Runs the probes on one thread: their tensors are tiny, and waking a thread pool for each small
// operation costs more than the arithmetic (and is slower still on a busy machine).
class OneThread {
 public:
  OneThread();
  ~OneThread();

 private:
  int saved_;
};

// Seeds the global generator from the probe's coordinates, so that both forwards of a pair draw the
// same dropout masks and router noise.
void seed_probe(uint64_t a, uint64_t b = 0, uint64_t c = 0);

}  // namespace lab
