// Attention kernels forward and forward+backward across lengths, as `lab profile` measures them:
// math (explicit scores), sdpa (LibTorch fused, or explicit on LibTorch < 2.1) and flash2.
#include "bench_support.hpp"

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cmath>

namespace {

using lab::bench::registry;

// Causal, batch 1, 8 heads; state.range(0) = length, range(1) = q/k head dim, range(2) = v head dim.
void run(benchmark::State& state, const std::string& kernel_name, bool with_backward) {
  const auto& plugin = registry().require(lab::Slot::Kernel, kernel_name);
  auto kernel = plugin.make_kernel(lab::default_options(plugin));
  const int64_t t = state.range(0), dqk = state.range(1), dv = state.range(2), h = 8;
  auto q = torch::randn({1, h, t, dqk}, torch::requires_grad());
  auto k = torch::randn({1, h, t, dqk}, torch::requires_grad());
  auto v = torch::randn({1, h, t, dv}, torch::requires_grad());
  auto probe = torch::randn({1, h, t, dv});
  lab::KernelArgs args;
  args.scale = 1.0 / std::sqrt(static_cast<double>(dqk));
  args.training = true;
  for (auto _ : state) {
    if (with_backward) {
      auto out = kernel->attend(q, k, v, args);
      auto grads = torch::autograd::grad({out}, {q, k, v}, {probe});
      benchmark::DoNotOptimize(grads[0].data_ptr());
    } else {
      torch::NoGradGuard no_grad;
      auto out = kernel->attend(q, k, v, args);
      benchmark::DoNotOptimize(out.data_ptr());
    }
  }
  // Useful FLOPs over the visible half of the score matrix; the backward counts twice the forward.
  const double forward = 2.0 * h * (t * (t + 1) / 2.0) * static_cast<double>(dqk + dv);
  state.counters["GFLOP/s"] = benchmark::Counter((with_backward ? 3 : 1) * forward * state.iterations() / 1e9,
                                                 benchmark::Counter::kIsRate);
}

void forward(benchmark::State& state, const std::string& name) { run(state, name, false); }
void forward_backward(benchmark::State& state, const std::string& name) { run(state, name, true); }

void shapes(benchmark::internal::Benchmark* b) {
  for (int64_t t : {256, 1024, 2048}) b->Args({t, 64, 64});
  b->Args({1024, 192, 128});  // MLA's head dims
  b->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK_CAPTURE(forward, math, std::string("math"))->Apply(shapes);
BENCHMARK_CAPTURE(forward, sdpa, std::string("sdpa"))->Apply(shapes);
BENCHMARK_CAPTURE(forward, flash2, std::string("flash2"))->Apply(shapes);
BENCHMARK_CAPTURE(forward_backward, math, std::string("math"))->Apply(shapes);
BENCHMARK_CAPTURE(forward_backward, sdpa, std::string("sdpa"))->Apply(shapes);
BENCHMARK_CAPTURE(forward_backward, flash2, std::string("flash2"))->Apply(shapes);

int main(int argc, char** argv) { return lab::bench::run(argc, argv); }
