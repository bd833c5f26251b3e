// Reference attention kernel: explicit scores, -inf causal mask, softmax in fp32, dropout, weighted sum.
#include <lab/plugin.hpp>

#include <torch/torch.h>

namespace {

class MathKernel : public lab::Kernel {
 public:
  torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                       const lab::KernelArgs& args) const override {
    // Scores and softmax in at least fp32 (double stays double, for gradient checks).
    const auto acc = torch::promote_types(q.scalar_type(), torch::kFloat32);
    auto scores = torch::matmul(q.to(acc), k.to(acc).transpose(-2, -1)) * args.scale;
    if (args.causal) {
      const int64_t t = q.size(-2), s = k.size(-2);
      // Query i sits at key position i + (s - t), so it may see keys up to that position.
      auto mask =
          torch::ones({t, s}, torch::TensorOptions().dtype(torch::kBool).device(q.device())).triu(s - t + 1);
      scores = scores.masked_fill(mask, -std::numeric_limits<float>::infinity());
    }
    auto probs = torch::softmax(scores, -1);
    if (args.training && args.dropout > 0) probs = torch::dropout(probs, args.dropout, true);
    return torch::matmul(probs, v.to(acc)).to(v.scalar_type());
  }
};

lab::KernelPtr make(const lab::Options&) { return std::make_shared<MathKernel>(); }

const lab::PluginDescriptor* descriptor() {
  static const lab::PluginDescriptor d = [] {
    lab::PluginDescriptor p;
    p.name = "math";
    p.slot = lab::Slot::Kernel;
    p.description = "reference attention: full score matrix, fp32 softmax";
    p.make_kernel = make;
    return p;
  }();
  return &d;
}

}  // namespace

LAB_PLUGIN(descriptor)
