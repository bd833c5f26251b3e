// RMSNorm (eps 1e-6, weight initialised to 1, statistics in fp32), shared by the core and plugins.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace lab {

class RMSNormImpl : public torch::nn::Module {
 public:
  explicit RMSNormImpl(int64_t dim, double eps = 1e-6);
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;
  double eps;
};
TORCH_MODULE(RMSNorm);

}  // namespace lab
