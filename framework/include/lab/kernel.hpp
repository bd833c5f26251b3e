// Kernel slot: softmax(q kᵀ · scale + mask) v.
#pragma once

#include <torch/types.h>

#include <memory>

namespace lab {

struct KernelArgs {
  double scale = 1.0;
  bool causal = true;
  double dropout = 0.0;  // attention-probability dropout, applied only when training
  bool training = false;
};

// q [B, H, T, Dqk], k [B, H, S, Dqk], v [B, H, S, Dv] -> [B, H, T, Dv].
// With causal masking and S > T the queries are the last T positions (key cache layout).
class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const KernelArgs& args) const = 0;
};

using KernelPtr = std::shared_ptr<Kernel>;

}  // namespace lab
