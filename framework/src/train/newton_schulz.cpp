#include "train/optimizer.hpp"

#include <torch/torch.h>

namespace lab {

torch::Tensor newton_schulz_orthogonalize(const torch::Tensor& g, int64_t steps) {
  TORCH_CHECK(g.dim() >= 2, "newton_schulz_orthogonalize needs a matrix or a batch of matrices, got ",
              g.dim(), " dims");
  torch::NoGradGuard no_grad;
  // Quintic coefficients chosen to push all singular values into roughly [0.7, 1.2] within a few steps.
  const double a = 3.4445;
  const double b = -4.7750;
  const double c = 2.0315;

  torch::Tensor x = g.to(torch::kFloat32);
  // Frobenius normalisation bounds the spectral norm by 1, inside the iteration's basin.
  x = x / (x.square().sum({-2, -1}, /*keepdim=*/true).sqrt() + 1e-7);
  // Work on the wide orientation so the Gram matrix X·Xᵀ is the smaller one.
  const bool tall = x.size(-2) > x.size(-1);
  if (tall) x = x.transpose(-2, -1);
  for (int64_t i = 0; i < steps; ++i) {
    torch::Tensor gram = torch::matmul(x, x.transpose(-2, -1));
    torch::Tensor poly = b * gram + c * torch::matmul(gram, gram);
    x = a * x + torch::matmul(poly, x);
  }
  if (tall) x = x.transpose(-2, -1);
  return x.to(g.scalar_type()).contiguous();
}

}  // namespace lab
