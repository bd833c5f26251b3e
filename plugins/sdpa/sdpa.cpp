// LibTorch's fused scaled_dot_product_attention (LibTorch 2.1+, which takes a scale); older versions have
// none, so there the kernel says so once and computes the same result with explicit operations.
#include <lab/plugin.hpp>
#include <lab/reference_attention.hpp>

#include <torch/torch.h>
#include <torch/version.h>

#include <iostream>
#include <mutex>

namespace {

class SdpaKernel : public lab::Kernel {
 public:
  torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                       const lab::KernelArgs& args) const override {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
    const double dropout = args.training ? args.dropout : 0.0;
    if (!args.causal || q.size(-2) == k.size(-2)) {
      // The fused kernel's causal mask is top-left aligned, which equals ours only when T == S.
      return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, dropout, args.causal, args.scale);
    }
#else
    static std::once_flag warned;
    std::call_once(warned, [] {
      std::cerr << "lab: warning: kernel 'sdpa': LibTorch " << TORCH_VERSION
                << " has no fused attention; using explicit matmul-softmax-matmul\n";
    });
#endif
    return lab::reference_attention(q, k, v, args);
  }

  // The same causal softmax attention, as ONNX nodes.
  std::string export_onnx(lab::OnnxGraph& graph, const std::string& q, const std::string& k,
                          const std::string& v, const lab::KernelArgs& args) const override {
    return lab::onnx_ops::dense_attention(graph, q, k, v, args.scale, args.causal);
  }
};

lab::KernelPtr make(const lab::Options&) { return std::make_shared<SdpaKernel>(); }

const lab::PluginDescriptor* descriptor() {
  static const lab::PluginDescriptor d = [] {
    lab::PluginDescriptor p;
    p.name = "sdpa";
    p.slot = lab::Slot::Kernel;
    p.description = "LibTorch fused attention (2.1+); explicit fallback on older LibTorch";
    p.make_kernel = make;
    return p;
  }();
  return &d;
}

}  // namespace

LAB_PLUGIN(descriptor)
