// MoE dispatch against per-expert boolean masks, and the training cross-entropy against torch's, each
// forward + backward at the experiment-6 shape (4096 tokens, d 256, d_ff 512, top-2, vocab 8192).
#include "model/moe.hpp"
#include "train/cross_entropy.hpp"

#include <benchmark/benchmark.h>
#include <torch/torch.h>

namespace {

constexpr int64_t kTokens = 4096, kDim = 256, kHidden = 512, kTopK = 2, kVocab = 8192;

// Random top-2 routing with softmax weights, the same every call.
class RandomRouter : public lab::Router {
 public:
  explicit RandomRouter(int64_t experts) {
    torch::manual_seed(1);
    auto scores = torch::randn({kTokens, experts});
    auto top = scores.topk(kTopK, -1);
    experts_ = std::get<1>(top);
    weights_ = torch::softmax(std::get<0>(top), -1);
  }
  lab::Routing route(const torch::Tensor&, lab::ForwardState&) override {
    return lab::Routing{experts_, weights_, {}, {}};
  }
  torch::Tensor experts_, weights_;
};

lab::MoE make_moe(int64_t experts) {
  lab::MoE moe(lab::MoEOptions{kDim, kHidden, experts, 0, 0.0}, std::make_shared<RandomRouter>(experts));
  for (auto& p : moe->parameters()) p.data().normal_(0, 0.02);
  return moe;
}

// lab's dispatch: sort once, contiguous slices, one scatter.
void sorted_dispatch(benchmark::State& state) {
  auto moe = make_moe(state.range(0));
  auto x = torch::randn({1, kTokens, kDim}, torch::requires_grad());
  for (auto _ : state) {
    lab::ForwardState fs;
    moe->forward(x, fs, "").sum().backward();
  }
  state.SetItemsProcessed(state.iterations() * kTokens);
}

// The seeds' Python model: for every expert, a boolean mask over all N·K assignments.
void masked_loop(benchmark::State& state) {
  const int64_t experts = state.range(0);
  auto moe = make_moe(experts);
  auto& router = static_cast<RandomRouter&>(moe->router());
  auto x = torch::randn({kTokens, kDim}, torch::requires_grad());
  for (auto _ : state) {
    auto out = torch::zeros_like(x);
    for (int64_t e = 0; e < experts; ++e) {
      auto mask = (router.experts_ == e);  // [N, K]
      auto weight = (router.weights_ * mask).sum(-1, true);
      auto rows = mask.any(-1).nonzero().squeeze(1);
      if (rows.numel() == 0) continue;
      auto xe = x.index_select(0, rows);
      auto h = torch::silu(xe.matmul(moe->w_gate[e].t())) * xe.matmul(moe->w_up[e].t());
      out = out.index_add(0, rows, h.matmul(moe->w_down[e].t()) * weight.index_select(0, rows));
    }
    out.sum().backward();
  }
  state.SetItemsProcessed(state.iterations() * kTokens);
}

void cross_entropy(benchmark::State& state, bool in_place) {
  auto logits_source = torch::randn({kTokens, kVocab});
  auto targets = torch::randint(kVocab, {kTokens}, torch::kInt64);
  auto scale = torch::ones({1}, torch::requires_grad());
  for (auto _ : state) {
    auto logits = logits_source * scale;  // a fresh graph node, as the LM head's output is
    auto loss = in_place ? lab::training_cross_entropy(logits, targets)
                         : torch::nn::functional::cross_entropy(logits, targets);
    loss.backward();
  }
  state.SetItemsProcessed(state.iterations() * kTokens);
}

}  // namespace

BENCHMARK(sorted_dispatch)->Arg(8)->Arg(16)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(masked_loop)->Arg(8)->Arg(16)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(cross_entropy, torch, false)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(cross_entropy, in_place, true)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
