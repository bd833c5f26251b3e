#include <lab/rmsnorm.hpp>

#include <torch/torch.h>

namespace lab {

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  // Statistics in at least fp32 (bf16/fp16 are promoted; double stays double for gradient checks).
  const auto acc = torch::promote_types(x.scalar_type(), torch::kFloat32);
  auto xa = x.to(acc);
  auto normed = xa * torch::rsqrt(xa.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return (normed * weight.to(acc)).to(x.scalar_type());
}

}  // namespace lab
