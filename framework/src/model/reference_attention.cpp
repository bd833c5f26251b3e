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
  if (args.causal)
    scores = scores.masked_fill(causal_mask(q.size(-2), k.size(-2), q.device()),
                                -std::numeric_limits<double>::infinity());
  auto probs = torch::softmax(scores, -1);
  if (args.training && args.dropout > 0) probs = torch::dropout(probs, args.dropout, true);
  return torch::matmul(probs, v.to(acc)).to(v.scalar_type());
}

}  // namespace lab
