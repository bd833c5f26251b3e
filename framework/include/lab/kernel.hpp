// Kernel slot: softmax(q kᵀ · scale + mask) v.
#pragma once

#include <lab/onnx_graph.hpp>

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
  // attend() as ONNX nodes over the value names q, k, v (inference: no dropout). "" (the default): the
  // kernel cannot be exported.
  virtual std::string export_onnx(OnnxGraph& graph, const std::string& q, const std::string& k,
                                  const std::string& v, const KernelArgs& args) const {
    (void)graph, (void)q, (void)k, (void)v, (void)args;
    return {};
  }
};

using KernelPtr = std::shared_ptr<Kernel>;

}  // namespace lab
