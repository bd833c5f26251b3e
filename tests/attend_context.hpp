// An AttendContext for testing attention plugins alone: a kernel slot, a RoPE slot, causal masking.
#pragma once

#include <lab/attention.hpp>
#include <lab/kernel.hpp>

namespace lab::test {

class DirectAttend : public AttendContext {
 public:
  DirectAttend(const Kernel& kernel, const Rope& rope, bool causal = true)
      : kernel_(kernel), rope_(rope), causal_(causal) {}
  torch::Tensor attend(const torch::Tensor&, const torch::Tensor& q, const torch::Tensor& k,
                       const torch::Tensor& v, double scale) override {
    KernelArgs args;
    args.scale = scale * rope_.softmax_scale_factor();
    args.causal = causal_;
    last_q = q;
    last_v = v;
    return kernel_.attend(q, k, v, args);
  }
  const Rope& rope() const override { return rope_; }
  ForwardState& state() override { return state_; }

  torch::Tensor last_q, last_v;  // what the plugin handed to the kernel, for shape checks

 private:
  const Kernel& kernel_;
  const Rope& rope_;
  bool causal_;
  ForwardState state_;
};

}  // namespace lab::test
