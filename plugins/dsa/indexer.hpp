// The lightning indexer of DeepSeek-V3.2-Exp: cheap per-token scores that pick the keys to attend to.
#pragma once

#include <lab/onnx_graph.hpp>
#include <lab/rope.hpp>

#include <torch/torch.h>

#include <memory>

namespace dsa {

// The indexer's view of a sequence: q [B, T, HI, dI] and k [B, S, dI] (rotary part first, half-split),
// w [B, T, HI] already scaled by (HI·dI)^(-1/2); k_scale [B, S], when defined, multiplies each key's
// score after the heads are summed (the key scales of a quantised indexer).
struct IndexerHeads {
  torch::Tensor q, k, w, k_scale;
};

class IndexerImpl : public torch::nn::Module {
 public:
  IndexerImpl(int64_t d_model, int64_t heads, int64_t dim, int64_t rope_dim);
  // The model's RoPE slot at rope_dim dims: its frequency table (and scaling) rotates the indexer's
  // leading dims, half-split as in DeepSeek-V3.2. Required before project() when rope_dim > 0.
  void set_rope(lab::RopePtr rope) { rope_ = std::move(rope); }
  int64_t rope_dim() const { return rope_dim_; }
  // x [B, T, d_model] -> the indexer's heads (the caller decides whether x is detached).
  IndexerHeads project(const torch::Tensor& x);
  // The index scores I [B, T, S] of x [B, T, d_model] as ONNX nodes, -inf where s is later than t
  // (onnx_lowering.cpp).
  std::string export_onnx(lab::OnnxGraph& graph, const std::string& x);

 private:
  int64_t heads_, dim_, rope_dim_;
  torch::nn::Linear wq_{nullptr}, wk_{nullptr}, weights_{nullptr};
  torch::nn::LayerNorm k_norm_{nullptr};
  lab::RopePtr rope_;
};
TORCH_MODULE(Indexer);

// Per-head contributions w_j·ReLU(q_j·k_s) [B, HI, T, S], -inf where s is later than t.
torch::Tensor head_scores(const IndexerHeads& heads);
// I[b, t, s] = Σ_j w_j·ReLU(q_j·k_s) [B, T, S], -inf where s is later than t; differentiable.
torch::Tensor index_scores(const IndexerHeads& heads);
// The top_k causal keys of every query, ascending, -1 where a query has fewer than top_k keys:
// [B, T, min(top_k, S)] int64. Scores are computed `block` queries at a time with the top-k taken on
// the fly, so no [B, T, S] tensor is held. No gradient. With `picked` (CPU), also what the selection
// computed about the selected keys, for selected_scores to reuse; elsewhere it is left empty.
struct PickedScores {
  torch::Tensor scores;    // [B, T, K]: I[t, s] of each selected key, 0 for padding
  torch::Tensor products;  // [B, T, K, HI]: q_h·k_s before the ReLU, 0 for padding
};
torch::Tensor select_keys(const IndexerHeads& heads, int64_t top_k, int64_t block = 256,
                          PickedScores* picked = nullptr);

}  // namespace dsa
