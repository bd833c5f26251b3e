#include "audit/component_probe.hpp"

#include "model/model.hpp"
#include "util/hash.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace lab {

namespace {

std::vector<int64_t> distinct_positions(std::vector<int64_t> wanted, int64_t seq_len) {
  std::vector<int64_t> out;
  for (int64_t j : wanted) {
    j = std::clamp<int64_t>(j, 1, seq_len - 1);
    if (std::find(out.begin(), out.end(), j) == out.end()) out.push_back(j);
  }
  return out;
}

struct Pass {
  NamedOutputs outputs;
  std::vector<torch::Tensor> input_grads, param_grads;
};

// One forward and the gradients of sum(output[row, :j] * R) over the differentiable outputs, R fixed
// random weights drawn after the forward from a fixed seed.
Pass run_pass(Component& c, std::vector<torch::Tensor> inputs, bool training, int64_t row, int64_t j,
              uint64_t seed) {
  for (auto& x : inputs) x = x.detach().requires_grad_(true);
  seed_probe(seed, 1);
  Pass pass;
  pass.outputs = c.forward(inputs, training);
  torch::Tensor loss;
  seed_probe(seed, 2);
  for (const auto& [name, out] : pass.outputs) {
    if (!out.requires_grad()) continue;
    auto part = before_position(out, row, j);
    auto term = (part * torch::randn_like(part)).sum();
    loss = loss.defined() ? loss + term : term;
  }
  if (!loss.defined()) return pass;
  std::vector<torch::Tensor> wrt = inputs;
  std::vector<torch::Tensor> params = c.module ? c.module->parameters() : std::vector<torch::Tensor>{};
  wrt.insert(wrt.end(), params.begin(), params.end());
  auto grads = torch::autograd::grad({loss}, wrt, {}, c10::nullopt, false, /*allow_unused=*/true);
  pass.input_grads.assign(grads.begin(), grads.begin() + static_cast<int64_t>(inputs.size()));
  pass.param_grads.assign(grads.begin() + static_cast<int64_t>(inputs.size()), grads.end());
  return pass;
}

void compare_passes(const Pass& a, const Pass& b, const std::vector<std::string>& names, int64_t row,
                    int64_t j, const std::string& where, ChangeLog& log) {
  for (size_t o = 0; o < a.outputs.size(); ++o) {
    const auto& [name, out] = a.outputs[o];
    log.compare(name, where, before_position(out, row, j), before_position(b.outputs[o].second, row, j));
    log.note("other batch rows: " + name, where, other_rows(out, row), other_rows(b.outputs[o].second, row));
  }
  for (size_t n = 0; n < a.input_grads.size(); ++n) {
    const auto& g = a.input_grads[n];
    if (!g.defined()) continue;
    const std::string input = "gradient of " + names[n];
    const auto scale = before_position(g, row, j);
    log.compare(input + " before j", where, scale, before_position(b.input_grads[n], row, j));
    log.expect_zero(input + " at j and later", where, from_position(g, row, j), scale);
    log.expect_zero(input + " at j and later", where, from_position(b.input_grads[n], row, j), scale);
  }
  // Against the largest gradient of any parameter: one whose gradient vanishes in exact arithmetic
  // (keys under a one-key softmax) carries rounding of the size of the others.
  const auto scale_of_all = largest_magnitude(a.param_grads);
  for (size_t n = 0; n < a.param_grads.size(); ++n)
    if (a.param_grads[n].defined() && b.param_grads[n].defined())
      log.compare("parameter gradients", where, a.param_grads[n], b.param_grads[n], scale_of_all);
}

}  // namespace

OneThread::OneThread() : saved_(at::get_num_threads()) { at::set_num_threads(1); }
OneThread::~OneThread() { at::set_num_threads(saved_); }

void seed_probe(uint64_t a, uint64_t b, uint64_t c) {
  torch::manual_seed(mix_seed(mix_seed(mix_seed(a) ^ b) ^ c) >> 1);
}

ProbePlan ProbePlan::full(int64_t seq_len, double init_std, int64_t d_model) {
  ProbePlan plan;
  plan.positions = distinct_positions({1, seq_len / 4, seq_len / 2, seq_len - 1}, seq_len);
  plan.init_stds = {init_std, 1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(d_model, 1)))};
  return plan;
}

ProbePlan ProbePlan::quick(int64_t seq_len, double init_std) {
  ProbePlan plan;
  plan.positions = distinct_positions({1, seq_len / 2, seq_len - 1}, seq_len);
  plan.init_stds = {init_std};
  return plan;
}

std::string ProbePlan::where(int64_t row, int64_t j, bool training, size_t init) const {
  return "row " + std::to_string(row) + ", j = " + std::to_string(j) + ", " +
         (training ? "training" : "eval") + " mode, init " + std::to_string(init + 1);
}

ChangeLog probe_component(const ComponentFactory& make, const ProbePlan& plan) {
  ChangeLog log;
  for (size_t init = 0; init < plan.init_stds.size(); ++init) {
    seed_probe(init, 99);
    Component c = make();
    if (c.module) initialize_parameters(*c.module, plan.init_stds[init]);
    for (bool training : {true, false}) {
      if (c.module) c.module->train(training);
      for (size_t p = 0; p < plan.positions.size(); ++p) {
        const int64_t j = plan.positions[p], row = static_cast<int64_t>(p) % plan.batch;
        const uint64_t seed = mix_seed(init * 1000 + p * 10 + (training ? 1 : 0));
        seed_probe(seed, 3);
        std::vector<torch::Tensor> inputs, perturbed;
        for (const auto& shape : c.input_shapes) {
          inputs.push_back(torch::randn(shape));
          perturbed.push_back(inputs.back().clone());
          perturbed.back().select(0, row).select(0, j).normal_();
        }
        const Pass a = run_pass(c, inputs, training, row, j, seed);
        const Pass b = run_pass(c, perturbed, training, row, j, seed);
        compare_passes(a, b, c.input_names, row, j, plan.where(row, j, training, init), log);
        log.count_probe();
      }
    }
  }
  return log;
}

}  // namespace lab
