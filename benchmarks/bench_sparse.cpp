// DeepSeek Sparse Attention against dense attention, forward + backward on CPU: B=1, H=8, D=64,
// k=256, the indexer (4 heads of 64) and its KL loss included. `graph_MB` is the heap the autograd
// graph holds after the forward pass (what grows with T² for dense and with T·k for sparse).
#include "bench_support.hpp"

#include <benchmark/benchmark.h>
#include <malloc.h>
#include <torch/torch.h>

namespace {

constexpr int64_t kHeads = 8, kDim = 64, kTopK = 256;

using lab::bench::registry;

// Heap bytes in use, small blocks and mmapped ones alike.
double heap_mb() {
  struct mallinfo2 info = mallinfo2();
  return static_cast<double>(info.uordblks + info.hblkhd) / (1024.0 * 1024.0);
}

struct Heads {
  torch::Tensor x, q, k, v;
};

Heads heads(int64_t t) {
  torch::manual_seed(0);
  auto grad = torch::requires_grad();
  return {torch::randn({1, t, kHeads * kDim}), torch::randn({1, kHeads, t, kDim}, grad),
          torch::randn({1, kHeads, t, kDim}, grad), torch::randn({1, kHeads, t, kDim}, grad)};
}

lab::KernelArgs args() {
  lab::KernelArgs a;
  a.scale = 1.0 / std::sqrt(static_cast<double>(kDim));
  a.training = true;
  return a;
}

// Runs forward + backward; returns the heap the graph held between them.
template <typename Forward>
void run(benchmark::State& state, Heads& in, Forward forward) {
  double graph_mb = 0;
  for (auto _ : state) {
    const double before = heap_mb();
    torch::Tensor loss = forward();
    graph_mb = std::max(graph_mb, heap_mb() - before);
    loss.backward();
    benchmark::DoNotOptimize(in.q.grad().data_ptr());
    for (auto* t : {&in.q, &in.k, &in.v}) t->mutable_grad() = torch::Tensor();
  }
  state.counters["graph_MB"] = graph_mb;
}

void dense(benchmark::State& state) {
  const auto& plugin = registry().require(lab::Slot::Kernel, "math");
  auto kernel = plugin.make_kernel(lab::default_options(plugin));
  Heads in = heads(state.range(0));
  run(state, in, [&] { return kernel->attend(in.q, in.k, in.v, args()).sum(); });
}

void dsa(benchmark::State& state) {
  const auto& dense_plugin = registry().require(lab::Slot::Kernel, "math");
  auto kernel = dense_plugin.make_kernel(lab::default_options(dense_plugin));
  const auto& plugin = registry().require(lab::Slot::Sparse, "dsa");
  lab::ModelDims dims;
  dims.d_model = kHeads * kDim;
  auto sparse = plugin.make_sparse(lab::default_options(plugin, {{"top_k", lab::Value::of(kTopK)}}), dims);
  const auto& rope = registry().require(lab::Slot::Rope, "rope");
  sparse->use_rope(
      rope.make_rope(lab::default_options(rope), lab::RopeDims{sparse->rope_dim(), state.range(0)}));
  sparse->train();
  Heads in = heads(state.range(0));
  run(state, in, [&] {
    lab::ForwardState fs;
    fs.training = true;
    auto loss = sparse->attend(in.x, in.q, in.k, in.v, args(), *kernel, fs).sum();
    for (const auto& [name, aux] : fs.aux_losses) loss = loss + aux;  // the indexer trains too
    return loss;
  });
}

}  // namespace

BENCHMARK(dense)->Arg(1024)->Arg(2048)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(dsa)->Arg(1024)->Arg(2048)->Arg(4096)->Arg(8192)->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) { return lab::bench::run(argc, argv); }
