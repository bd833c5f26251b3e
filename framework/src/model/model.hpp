// The language model: embedding -> blocks (RMSNorm, attention, RMSNorm, MoE) -> RMSNorm -> tied head.
#pragma once

#include "model/moe.hpp"

#include <lab/attention.hpp>
#include <lab/kernel.hpp>
#include <lab/rmsnorm.hpp>
#include <lab/rope.hpp>
#include <lab/sparse.hpp>

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>

#include <map>
#include <string>
#include <vector>

namespace lab {

struct Config;
class ComponentClock;
class OnnxGraph;
struct OnnxPluginNames;

// Intermediate tensors of one forward pass, for the causality audit: the embedding output (before
// dropout) and each block's attention and MoE outputs, all [B, T, d_model] and still in the graph.
struct ModelCapture {
  torch::Tensor embedding;
  std::vector<torch::Tensor> attention, moe;
};

class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(AttentionPtr attention, SparsePtr sparse, MoE moe, int64_t d_model);
  torch::Tensor forward(const torch::Tensor& x, ForwardState& state, const Kernel& kernel, const Rope& rope,
                        const KernelArgs& kernel_args, double dropout, int64_t layer);
  Sparse* sparse() { return sparse_.get(); }
  MoE& moe() { return moe_; }
  void set_component_clock(ComponentClock* clock) { clock_ = clock; }
  void set_capture(ModelCapture* capture) { capture_ = capture; }
  // forward() at inference as ONNX nodes (onnx/lower_model.cpp).
  std::string export_onnx(OnnxGraph& graph, const std::string& x, const Kernel& kernel, const Rope& rope,
                          const KernelArgs& kernel_args, const OnnxPluginNames& plugins);

 private:
  ComponentClock* clock_ = nullptr;
  ModelCapture* capture_ = nullptr;
  RMSNorm attn_norm_{nullptr}, moe_norm_{nullptr};
  AttentionPtr attention_;
  SparsePtr sparse_;
  MoE moe_{nullptr};
};
TORCH_MODULE(Block);

class LanguageModelImpl : public torch::nn::Module {
 public:
  // Builds every block from the plugins the configuration names.
  explicit LanguageModelImpl(const Config& config);
  // tokens [B, T] int64 -> logits [B, T, vocab].
  torch::Tensor forward(const torch::Tensor& tokens, ForwardState& state);
  // tokens -> the final norm's output [B, T, d], which the tied head multiplies with head_weight().
  torch::Tensor forward_hidden(const torch::Tensor& tokens, ForwardState& state);
  const torch::Tensor& head_weight() const { return embed_->weight; }
  // Normal(0, init_std) for matrices, zeros for biases, ones for norm weights; call after seeding.
  void initialize(double std);
  void set_sparse_mode(const std::string& mode);
  void after_step();  // router updates that are not gradients
  // Times embedding, attention, MoE (router apart) and head, forward and backward, into `clock`
  // (nullptr: off). For lab bench on CPU.
  void set_component_clock(ComponentClock* clock);
  // Records intermediate tensors of every following forward pass into `capture` (nullptr: off).
  void set_capture(ModelCapture* capture);
  // forward() at inference as ONNX nodes: tokens [B, T] int64 -> logits [B, T, vocab]; throws
  // lab::InputError naming the first plugin that cannot be exported (onnx/lower_model.cpp).
  std::string export_onnx(OnnxGraph& graph, const std::string& tokens, const OnnxPluginNames& plugins);

 private:
  ComponentClock* clock_ = nullptr;
  ModelCapture* capture_ = nullptr;
  torch::nn::Embedding embed_{nullptr};
  torch::nn::ModuleList blocks_{nullptr};
  RMSNorm final_norm_{nullptr};
  std::vector<Block> block_list_;
  KernelPtr kernel_;
  RopePtr rope_;
  KernelArgs kernel_args_;
  double dropout_ = 0;
};
TORCH_MODULE(LanguageModel);

// Normal(0, std) for matrices, zeros for biases, ones for norm weights: the core's initialisation of a
// model or of one plugin module on its own.
void initialize_parameters(torch::nn::Module& module, double std);

// Parameter group ("embedding", "attention", "sparse", "router", "experts", "norms") of a parameter name.
std::string parameter_group(const std::string& name);
// Finer component: the group plus the first sub-module inside an attention/sparse plugin
// (e.g. "attention.q_proj"); the key of the per-component parameter counts.
std::string parameter_component(const std::string& name);

struct ParameterCounts {
  int64_t total = 0;
  int64_t active = 0;  // per token: experts counted at top_k / experts
  std::map<std::string, int64_t> by_component;
  // The attention plugin's parameters by role: "q", "kv", "output", "norms", "other" (see attention_part).
  std::map<std::string, int64_t> attention_parts;
};

// Role of an attention sub-module by its name: norms (any *norm*), q (q_*), kv (k_*, v_*, kv_*),
// output (o_*), else other. Plugins that name sub-modules this way get a parameter breakdown.
std::string attention_part(const std::string& submodule);
ParameterCounts count_parameters(torch::nn::Module& model, int64_t n_experts, int64_t top_k);

}  // namespace lab
