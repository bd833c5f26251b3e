// Attention kernels (forward + backward) and the MoE layer, on CPU, at a few sequence lengths.
#include "bench_support.hpp"
#include "model/moe.hpp"

#include <benchmark/benchmark.h>
#include <torch/torch.h>

namespace {

using lab::bench::registry;

void attention(benchmark::State& state, const std::string& kernel_name) {
  const auto& plugin = registry().require(lab::Slot::Kernel, kernel_name);
  auto kernel = plugin.make_kernel(lab::default_options(plugin));
  const int64_t t = state.range(0), h = 8, d = 64;
  auto q = torch::randn({1, h, t, d}, torch::requires_grad());
  auto k = torch::randn({1, h, t, d}, torch::requires_grad());
  auto v = torch::randn({1, h, t, d}, torch::requires_grad());
  lab::KernelArgs args;
  args.scale = 0.125;
  for (auto _ : state) {
    auto out = kernel->attend(q, k, v, args);
    out.sum().backward();
    benchmark::DoNotOptimize(q.grad().data_ptr());
  }
  // Causal attention's useful FLOPs: forward 2 matmuls, backward 5, over half the score matrix.
  const double flops = 7.0 * 2.0 * h * t * t * d / 2.0;
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

void moe(benchmark::State& state) {
  lab::ModelDims dims;
  dims.d_model = 256;
  dims.n_experts = state.range(0);
  dims.top_k = 2;
  const auto& plugin = registry().require(lab::Slot::Router, "topk");
  auto router = plugin.make_router(lab::default_options(plugin), dims);
  lab::MoE layer(256, 512, dims.n_experts, router);
  for (auto& p : layer->parameters()) p.data().normal_(0, 0.02);
  auto x = torch::randn({16, 256, 256});
  for (auto _ : state) {
    lab::ForwardState fs;
    auto y = layer->forward(x, fs, "");
    y.sum().backward();
    benchmark::DoNotOptimize(y.data_ptr());
  }
  state.counters["tokens/s"] =
      benchmark::Counter(16.0 * 256 * state.iterations(), benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK_CAPTURE(attention, math, std::string("math"))
    ->Arg(256)
    ->Arg(1024)
    ->Arg(2048)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(attention, sdpa, std::string("sdpa"))
    ->Arg(256)
    ->Arg(1024)
    ->Arg(2048)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(moe)->Arg(8)->Arg(16)->Arg(64)->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) { return lab::bench::run(argc, argv); }
