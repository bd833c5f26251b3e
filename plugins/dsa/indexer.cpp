#include "indexer.hpp"

#include <lab/reference_attention.hpp>

#include <cmath>
#include <limits>

namespace dsa {

namespace {

class IndexRotary : public lab::Rotary {
 public:
  IndexRotary(int64_t dim, double theta) : Rotary(dim, lab::RopeLayout::HalfSplit), theta_(theta) {}

 protected:
  torch::Tensor inv_freq(int64_t) const override { return lab::rope_inv_freq(dim(), theta_); }

 private:
  double theta_;
};

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// Scores of queries [t0, t0 + rows) against keys [0, keys), summed over indexer heads.
torch::Tensor score_block(const IndexerHeads& h, int64_t t0, int64_t rows, int64_t keys) {
  auto q = h.q.narrow(1, t0, rows);  // [B, rows, HI, dI]
  auto k = h.k.narrow(1, 0, keys);   // [B, keys, dI]
  auto w = h.w.narrow(1, t0, rows);  // [B, rows, HI]
  // One head at a time, so [B, rows, HI, keys] is never held.
  torch::Tensor total;
  for (int64_t j = 0; j < q.size(2); ++j) {
    auto part = w.select(2, j).unsqueeze(-1) * torch::relu(torch::matmul(q.select(2, j), k.transpose(1, 2)));
    total = total.defined() ? total + part : part;
  }
  return total;
}

// [rows, keys] true where key s is later than query t0 + i (queries are the last T of S positions).
torch::Tensor future(int64_t t0, int64_t rows, int64_t keys, int64_t offset, torch::Device device) {
  auto t = torch::arange(t0, t0 + rows, torch::TensorOptions().dtype(torch::kLong).device(device)) + offset;
  auto s = torch::arange(keys, torch::TensorOptions().dtype(torch::kLong).device(device));
  return s.unsqueeze(0) > t.unsqueeze(1);
}

}  // namespace

IndexerImpl::IndexerImpl(int64_t d_model, int64_t heads, int64_t dim, int64_t rope_dim, double rope_theta)
    : heads_(heads), dim_(dim), rope_dim_(rope_dim) {
  auto linear = [](int64_t in, int64_t out) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false));
  };
  wq_ = register_module("wq", linear(d_model, heads * dim));
  wk_ = register_module("wk", linear(d_model, dim));
  weights_ = register_module("weights_proj", linear(d_model, heads));
  k_norm_ = register_module("k_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6)));
  if (rope_dim_ > 0) rotary_ = std::make_shared<IndexRotary>(rope_dim_, rope_theta);
}

IndexerHeads IndexerImpl::project(const torch::Tensor& x) {
  const int64_t b = x.size(0), t = x.size(1);
  auto q = wq_->forward(x).view({b, t, heads_, dim_});
  auto k = k_norm_->forward(wk_->forward(x));
  if (rotary_) {
    // Rotary part first (DeepSeek-V3.2 indexer), half-split pairs; positions 0..T-1.
    auto q_rot = rotary_->apply(q.narrow(-1, 0, rope_dim_).transpose(1, 2)).transpose(1, 2);
    q = torch::cat({q_rot, q.narrow(-1, rope_dim_, dim_ - rope_dim_)}, -1);
    auto k_rot = rotary_->apply(k.narrow(-1, 0, rope_dim_).unsqueeze(1)).squeeze(1);
    k = torch::cat({k_rot, k.narrow(-1, rope_dim_, dim_ - rope_dim_)}, -1);
  }
  auto w = weights_->forward(x) / std::sqrt(static_cast<double>(heads_ * dim_));
  return IndexerHeads{q, k, w};
}

torch::Tensor head_scores(const IndexerHeads& h) {
  const int64_t t = h.q.size(1), s = h.k.size(1);
  auto r = torch::relu(torch::matmul(h.q.transpose(1, 2), h.k.unsqueeze(1).transpose(-2, -1)));
  auto scores = h.w.transpose(1, 2).unsqueeze(-1) * r;
  return scores.masked_fill(future(0, t, s, s - t, h.q.device()), kNegInf);
}

torch::Tensor index_scores(const IndexerHeads& h) {
  const int64_t t = h.q.size(1), s = h.k.size(1);
  return score_block(h, 0, t, s).masked_fill(future(0, t, s, s - t, h.q.device()), kNegInf);
}

torch::Tensor select_keys(const IndexerHeads& h, int64_t top_k, int64_t block) {
  torch::NoGradGuard no_grad;
  const int64_t t = h.q.size(1), s = h.k.size(1), offset = s - t;
  const int64_t width = std::min(top_k, s);
  std::vector<torch::Tensor> parts;
  for (int64_t t0 = 0; t0 < t; t0 += block) {
    const int64_t rows = std::min(block, t - t0);
    const int64_t keys = std::min(s, t0 + rows + offset);  // later keys are invisible to the whole block
    auto scores =
        score_block(h, t0, rows, keys).masked_fill(future(t0, rows, keys, offset, h.q.device()), kNegInf);
    const int64_t take = std::min(width, keys);
    auto [values, index] = scores.topk(take, -1);
    index = index.masked_fill(values.isneginf(), -1);  // fewer causal keys than top_k
    if (take < width)
      index = torch::cat({index, torch::full({index.size(0), rows, width - take}, -1, index.options())}, -1);
    parts.push_back(std::get<0>(index.sort(-1)));  // ascending: -1 first, then keys in memory order
  }
  return torch::cat(parts, 1);
}

}  // namespace dsa
