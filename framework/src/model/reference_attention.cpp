#include <lab/reference_attention.hpp>

#include <torch/torch.h>

#include <limits>

namespace lab {

torch::Tensor causal_mask(int64_t t, int64_t s, torch::Device device) {
  return torch::ones({t, s}, torch::TensorOptions().dtype(torch::kBool).device(device)).triu(s - t + 1);
}

torch::Tensor reference_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                  const KernelArgs& args) {
  // Scores and softmax in at least fp32 (double stays double, for gradient checks).
  const auto acc = torch::promote_types(q.scalar_type(), torch::kFloat32);
  auto scores = torch::matmul(q.to(acc), k.to(acc).transpose(-2, -1)) * args.scale;
  torch::Tensor empty;  // [T, 1] rows that see no key (T > S, bottom-right causal alignment)
  if (args.causal) {
    auto mask = causal_mask(q.size(-2), k.size(-2), q.device());
    empty = mask.all(-1, true);
    // An empty row is left unmasked here and zeroed after the softmax: its output is 0, not NaN, and
    // its gradient stays finite.
    scores =
        scores.masked_fill(mask.logical_and(empty.logical_not()), -std::numeric_limits<double>::infinity());
  }
  auto probs = torch::softmax(scores, -1);
  if (empty.defined()) probs = probs.masked_fill(empty, 0.0);
  if (args.training && args.dropout > 0) probs = torch::dropout(probs, args.dropout, true);
  return torch::matmul(probs, v.to(acc)).to(v.scalar_type());
}

}  // namespace lab
