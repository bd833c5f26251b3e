#include "statistics.hpp"

#include <torch/torch.h>

#include <cmath>
#include <limits>

namespace dsa {

torch::Tensor dense_head_mean(const torch::Tensor& q, const torch::Tensor& k, double scale, int64_t t0,
                              int64_t rows, int64_t keys) {
  torch::NoGradGuard no_grad;
  const int64_t t = q.size(2), s = k.size(2);
  const auto acc = torch::promote_types(q.scalar_type(), torch::kFloat32);
  auto scores =
      torch::matmul(q.narrow(2, t0, rows).to(acc), k.narrow(2, 0, keys).to(acc).transpose(-2, -1)) * scale;
  auto opts = torch::TensorOptions().dtype(torch::kLong).device(q.device());
  auto later =
      torch::arange(keys, opts).unsqueeze(0) > (torch::arange(t0, t0 + rows, opts) + (s - t)).unsqueeze(1);
  return torch::softmax(scores.masked_fill(later, -std::numeric_limits<double>::infinity()), -1).mean(1);
}

torch::Tensor indexer_kl(const torch::Tensor& p, const torch::Tensor& scores, const torch::Tensor& support) {
  auto target = p.detach().to(scores.scalar_type()).masked_fill(support.logical_not(), 0.0);
  auto log_q = torch::log_softmax(
                   scores.masked_fill(support.logical_not(), -std::numeric_limits<double>::infinity()), -1)
                   .masked_fill(support.logical_not(), 0.0);
  auto kl = (torch::xlogy(target, target) - target * log_q).sum(-1);
  return kl.mean();
}

SelectionStats selection_stats(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& idx,
                               const torch::Tensor& probs, double scale, int64_t block) {
  torch::NoGradGuard no_grad;
  const int64_t b = q.size(0), t = q.size(2), s = k.size(2), offset = s - t;
  SelectionStats out;
  auto valid = idx.ge(0);
  auto positions = torch::arange(t, idx.options()).view({1, t, 1}) + offset;
  auto distance = (positions - idx).to(torch::kFloat64).masked_fill(valid.logical_not(), 0.0);
  auto p = probs.to(torch::kFloat64).masked_fill(valid.logical_not(), 0.0);
  const double causal_pairs = static_cast<double>(b) * (t * (t + 1) / 2 + t * offset);
  out.sparsity = 1.0 - valid.sum().item<double>() / causal_pairs;
  const double queries = static_cast<double>(b * t);
  out.distance_mean = (p * distance).sum().item<double>() / queries;
  const double second = (p * distance * distance).sum().item<double>() / queries;
  out.distance_std = std::sqrt(std::max(0.0, second - out.distance_mean * out.distance_mean));
  double recall = 0;
  for (int64_t t0 = 0; t0 < t; t0 += block) {
    const int64_t rows = std::min(block, t - t0), keys = std::min(s, t0 + rows + offset);
    auto dense = dense_head_mean(q, k, scale, t0, rows, keys).to(torch::kFloat64);  // [B, rows, keys]
    auto sel = idx.narrow(1, t0, rows);
    auto kept = dense.gather(2, sel.clamp_min(0)).masked_fill(sel.lt(0), 0.0);
    recall += kept.sum().item<double>();
  }
  out.recall = recall / queries;
  return out;
}

}  // namespace dsa
