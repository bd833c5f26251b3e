// Reference attention kernel: the full score matrix, fp32 softmax (see lab/reference_attention.hpp).
#include <lab/plugin.hpp>
#include <lab/reference_attention.hpp>

namespace {

class MathKernel : public lab::Kernel {
 public:
  torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                       const lab::KernelArgs& args) const override {
    return lab::reference_attention(q, k, v, args);
  }

  // The same causal softmax attention, as ONNX nodes.
  std::string export_onnx(lab::OnnxGraph& graph, const std::string& q, const std::string& k,
                          const std::string& v, const lab::KernelArgs& args) const override {
    return lab::onnx_ops::dense_attention(graph, q, k, v, args.scale, args.causal);
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
