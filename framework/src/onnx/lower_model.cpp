// The language model's forward pass as ONNX nodes: embedding, blocks, final norm, tied head; the MoE
// layer computes every expert densely and weights it by its gate, which reproduces lab's sparse dispatch.
#include "onnx/lower_model.hpp"

#include "model/model.hpp"
#include "model/moe.hpp"
#include "util/format.hpp"

#include <torch/torch.h>

namespace lab {

namespace {

using A = OnnxAttribute;
namespace ops = onnx_ops;

class BlockOnnxAttend : public OnnxAttend {
 public:
  BlockOnnxAttend(OnnxGraph& graph, const Kernel& kernel, const Rope& rope, Sparse* sparse,
                  const KernelArgs& args, const OnnxPluginNames& plugins)
      : g_(graph), kernel_(kernel), rope_(rope), sparse_(sparse), args_(args), plugins_(plugins) {}

  std::string attend(const std::string& x, const std::string& q, const std::string& k, const std::string& v,
                     double scale) override {
    KernelArgs args = args_;
    args.scale = scale * rope_.softmax_scale_factor();
    args.training = false;
    if (sparse_)
      return lower_plugin(plugins_.sparse, [&] { return sparse_->export_onnx(g_, x, q, k, v, args); });
    return lower_plugin(plugins_.kernel, [&] { return kernel_.export_onnx(g_, q, k, v, args); });
  }

  std::string rotate(const std::string& x) override {
    return lower_plugin(plugins_.rope, [&] { return rope_.export_onnx(g_, x); });
  }

 private:
  OnnxGraph& g_;
  const Kernel& kernel_;
  const Rope& rope_;
  Sparse* sparse_;
  const KernelArgs& args_;
  const OnnxPluginNames& plugins_;
};

// silu(x·gate) · (x·up) · down with gate_up [.., d, 2f] (gate first) and down [.., f, d], transposed.
std::string swiglu(OnnxGraph& g, const std::string& x, const torch::Tensor& gate_up,
                   const torch::Tensor& down) {
  auto hidden = g.op("MatMul", {x, g.constant(gate_up, "expert_gate_up")});
  auto halves = g.node("Split", {hidden}, 2, {A::of("axis", -1)});
  auto silu = g.op("Mul", {halves[0], g.op("Sigmoid", {halves[0]})});
  return g.op("MatMul", {g.op("Mul", {silu, halves[1]}), g.constant(down, "expert_down")});
}

}  // namespace

std::string MoEImpl::export_onnx(OnnxGraph& g, const std::string& x, const std::string& router_plugin) {
  if (options_.capacity_factor > 0)
    throw InputError("moe.capacity_factor = " + fmt("%g", options_.capacity_factor) +
                     " cannot be exported to ONNX: it drops tokens by their place in the batch");
  torch::NoGradGuard no_grad;
  const int64_t d = options_.d_model, experts = options_.n_experts;
  auto flat = g.op("Reshape", {x, ops::ints(g, {-1, d})});
  OnnxRouting routing = lower_plugin(router_plugin, [&] { return router_->export_onnx(g, flat); });
  // gates [N, E]: each token's combine weight per expert, 0 where the router did not pick it.
  auto zeros = g.op(
      "Expand", {ops::scalar(g, 0.0), ops::concat(g, {ops::dim(g, flat, 0), ops::ints(g, {experts})}, 0)});
  auto gates = g.op("ScatterElements", {zeros, routing.experts, routing.weights}, {A::of("axis", 1)});
  // Every expert on every token: [N, d] x [E, d, 2f] -> [E, N, 2f] -> [E, N, d].
  auto outputs = swiglu(g, flat, torch::cat({w_gate, w_up}, 1).transpose(1, 2), w_down.transpose(1, 2));
  auto weights = g.op("Unsqueeze", {g.op("Transpose", {gates}, {A::of("perm", std::vector<int64_t>{1, 0})}),
                                    ops::ints(g, {2})});
  auto out = g.op("ReduceSum", {g.op("Mul", {outputs, weights}), ops::ints(g, {0})}, {A::of("keepdims", 0)});
  if (shared_w_gate.defined())
    out = g.op("Add",
               {out, swiglu(g, flat, torch::cat({shared_w_gate, shared_w_up}, 0).t(), shared_w_down.t())});
  return g.op("Reshape", {out, g.op("Shape", {x})});
}

std::string BlockImpl::export_onnx(OnnxGraph& g, const std::string& x, const Kernel& kernel, const Rope& rope,
                                   const KernelArgs& kernel_args, const OnnxPluginNames& plugins) {
  BlockOnnxAttend ctx(g, kernel, rope, sparse_.get(), kernel_args, plugins);
  auto normed = ops::rms_norm(g, x, attn_norm_->weight, attn_norm_->eps);
  auto a = lower_plugin(plugins.attention, [&] { return attention_->export_onnx(g, normed, ctx); });
  auto h = g.op("Add", {x, a});
  auto m = moe_->export_onnx(g, ops::rms_norm(g, h, moe_norm_->weight, moe_norm_->eps), plugins.router);
  return g.op("Add", {h, m});
}

std::string LanguageModelImpl::export_onnx(OnnxGraph& g, const std::string& tokens,
                                           const OnnxPluginNames& plugins) {
  torch::NoGradGuard no_grad;
  auto table = g.constant(embed_->weight, "embedding");
  auto x = g.op("Gather", {table, tokens}, {A::of("axis", 0)});
  KernelArgs args = kernel_args_;
  args.training = false;
  for (auto& block : block_list_) x = block->export_onnx(g, x, *kernel_, *rope_, args, plugins);
  x = ops::rms_norm(g, x, final_norm_->weight, final_norm_->eps);
  // Tied head: the embedding table, transposed in the graph rather than stored twice.
  return g.op("MatMul", {x, g.op("Transpose", {table}, {A::of("perm", std::vector<int64_t>{1, 0})})});
}

}  // namespace lab
