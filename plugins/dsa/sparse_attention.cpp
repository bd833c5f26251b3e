#include "sparse_attention.hpp"

#include "cpu_kernels.hpp"
#ifdef DSA_WITH_CUDA
#include "cuda_kernels.hpp"
#endif

#include <torch/torch.h>

#include <limits>

namespace dsa {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

bool has_fused_kernel(const torch::Tensor& q) {
  if (q.device().is_cpu()) return true;
#ifdef DSA_WITH_CUDA
  return q.device().is_cuda();
#else
  return false;
#endif
}

class SparseAttentionFunction : public torch::autograd::Function<SparseAttentionFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const torch::Tensor& idx, double scale) {
    torch::Tensor out, probs;
#ifdef DSA_WITH_CUDA
    if (q.is_cuda())
      cuda::forward(q, k, v, idx, scale, out, probs);
    else
#endif
      cpu::forward(q, k, v, idx, scale, out, probs);
    ctx->save_for_backward({q, k, v, idx, probs, out});
    ctx->saved_data["scale"] = scale;
    ctx->mark_non_differentiable({probs});
    return {out, probs};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const double scale = ctx->saved_data["scale"].toDouble();
    auto grad_out = grads[0].contiguous();
    torch::Tensor gq, gk, gv;
#ifdef DSA_WITH_CUDA
    if (grad_out.is_cuda())
      cuda::backward(saved[0], saved[1], saved[2], saved[3], saved[4], grad_out, scale, gq, gk, gv);
    else
#endif
      cpu::backward(saved[0], saved[1], saved[2], saved[3], saved[4], saved[5], grad_out, scale, gq, gk, gv);
    return {gq, gk, gv, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

std::pair<torch::Tensor, torch::Tensor> sparse_attention(const torch::Tensor& q, const torch::Tensor& k,
                                                         const torch::Tensor& v, const torch::Tensor& idx,
                                                         double scale) {
  TORCH_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4 && idx.dim() == 3, "dsa: bad ranks");
  TORCH_CHECK(idx.size(0) == q.size(0) && idx.size(1) == q.size(2), "dsa: selection does not match queries");
  if (!has_fused_kernel(q)) return sparse_attention_gather(q, k, v, idx, scale);
  // The kernels compute in fp32 at least (double stays double, for gradient checks).
  const auto acc = torch::promote_types(q.scalar_type(), torch::kFloat32);
  auto result =
      SparseAttentionFunction::apply(q.to(acc).contiguous(), k.to(acc).contiguous(), v.to(acc).contiguous(),
                                     idx.to(torch::kInt64).contiguous(), scale);
  return {result[0].to(v.scalar_type()), result[1]};
}

std::pair<torch::Tensor, torch::Tensor> sparse_attention_gather(const torch::Tensor& q,
                                                                const torch::Tensor& k,
                                                                const torch::Tensor& v,
                                                                const torch::Tensor& idx, double scale,
                                                                double dropout) {
  const int64_t b = q.size(0), h = q.size(1), t = q.size(2), n = idx.size(2);
  const auto acc = torch::promote_types(q.scalar_type(), torch::kFloat32);
  auto flat = idx.clamp_min(0).reshape({b, 1, t * n, 1});
  auto gather = [&](const torch::Tensor& x) {
    return x.to(acc).gather(2, flat.expand({b, h, t * n, x.size(3)})).view({b, h, t, n, x.size(3)});
  };
  auto scores = (q.to(acc).unsqueeze(3) * gather(k)).sum(-1) * scale;
  auto missing = idx.lt(0).unsqueeze(1);
  scores = scores.masked_fill(missing, -std::numeric_limits<double>::infinity());
  // Rows with no key at all give zeros rather than NaN.
  auto probs = torch::softmax(scores, -1).nan_to_num(0.0).masked_fill(missing, 0.0);
  auto used = dropout > 0 ? torch::dropout(probs, dropout, true) : probs;
  auto out = (used.unsqueeze(-1) * gather(v)).sum(3);
  return {out.to(v.scalar_type()), probs.detach()};
}

}  // namespace dsa
