// A sparse-attention plugin (DSA) profiled beside the dense kernels: indexer, selection and sparse
// attention, forward and backward, the indexer's own loss included, as one training step runs them.
#pragma once

#include "profile_measure.hpp"

#include <lab/kernel.hpp>
#include <lab/sparse.hpp>
#include <lab/value.hpp>

#include <torch/types.h>

#include <map>
#include <memory>
#include <string>

namespace lab {
class PluginRegistry;
}

namespace lab::app {

class SparseAsKernel : public Kernel {
 public:
  // `d_model` is the width of the hidden state the indexer reads (random, regenerated per length).
  SparseAsKernel(SparsePtr sparse, KernelPtr dense, int64_t d_model);
  torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                       const KernelArgs& args) const override;
  // The losses the last training forward added (the indexer's KL), summed; a zero scalar if none.
  torch::Tensor losses() const { return losses_; }

 private:
  SparsePtr sparse_;
  KernelPtr dense_;
  int64_t d_model_;
  mutable torch::Tensor x_, losses_;
};

// The sparse plugin `name` with `top_k` keys per query and the given keys, on the shape's device and
// dtype, its RoPE slot the `rope` plugin up to `max_len` positions; `dense` serves its warm-up mode.
std::shared_ptr<SparseAsKernel> make_sparse_profile(const PluginRegistry& registry, const std::string& name,
                                                    int64_t top_k, const std::map<std::string, Value>& keys,
                                                    const ProfileShape& shape, int64_t max_len,
                                                    KernelPtr dense);

}  // namespace lab::app
