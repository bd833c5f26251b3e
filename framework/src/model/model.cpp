#include "model/model.hpp"

#include "model/component_clock.hpp"

#include "recipe/config.hpp"

#include <lab/error.hpp>

#include <torch/torch.h>

#include <algorithm>

namespace lab {

namespace {

class BlockAttend : public AttendContext {
 public:
  BlockAttend(const Kernel& kernel, const Rope& rope, Sparse* sparse, const KernelArgs& args,
              ForwardState& state, int64_t layer)
      : kernel_(kernel), rope_(rope), sparse_(sparse), args_(args), state_(state), layer_(layer) {}

  torch::Tensor attend(const torch::Tensor& x, const torch::Tensor& q, const torch::Tensor& k,
                       const torch::Tensor& v, double scale) override {
    KernelArgs args = args_;
    args.scale = scale * rope_.softmax_scale_factor();
    if (sparse_ && state_.inspect_layer == layer_) state_.inspected = sparse_->inspect(x, q, k, args);
    if (sparse_) return sparse_->attend(x, q, k, v, args, kernel_, state_);
    return kernel_.attend(q, k, v, args);
  }
  const Rope& rope() const override { return rope_; }
  ForwardState& state() override { return state_; }

 private:
  const Kernel& kernel_;
  const Rope& rope_;
  Sparse* sparse_;
  const KernelArgs& args_;
  ForwardState& state_;
  int64_t layer_;
};

}  // namespace

BlockImpl::BlockImpl(AttentionPtr attention, SparsePtr sparse, MoE moe, int64_t d_model)
    : attention_(std::move(attention)), sparse_(std::move(sparse)) {
  attn_norm_ = register_module("attn_norm", RMSNorm(d_model));
  register_module("attn", attention_);
  if (sparse_) register_module("sparse", sparse_);
  moe_norm_ = register_module("moe_norm", RMSNorm(d_model));
  moe_ = register_module("moe", std::move(moe));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x, ForwardState& state, const Kernel& kernel,
                                 const Rope& rope, const KernelArgs& kernel_args, double dropout,
                                 int64_t layer) {
  BlockAttend ctx(kernel, rope, sparse_.get(), kernel_args, state, layer);
  torch::Tensor a;
  {
    ComponentClock::Scope timing(clock_, "attention");
    a = attention_->forward(attn_norm_(clock_ ? clock_->enter(x, "attention") : x), ctx);
    if (clock_) a = clock_->leave(a, "attention");
  }
  if (capture_) capture_->attention.push_back(a);
  auto h = x + torch::dropout(a, dropout, is_training());
  std::string prefix = "moe.layer" + std::to_string(layer) + ".";
  torch::Tensor m;
  {
    ComponentClock::Scope timing(clock_, "moe");
    m = moe_->forward(moe_norm_(clock_ ? clock_->enter(h, "moe") : h), state, prefix);
    if (clock_) m = clock_->leave(m, "moe");
  }
  if (capture_) capture_->moe.push_back(m);
  return h + torch::dropout(m, dropout, is_training());
}

LanguageModelImpl::LanguageModelImpl(const Config& config) {
  const ModelDims& dims = config.dims;
  dropout_ = dims.dropout;
  kernel_args_.causal = true;
  kernel_args_.dropout = config.attention_dropout;
  embed_ = register_module("embed", torch::nn::Embedding(dims.vocab_size, dims.d_model));
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  kernel_ = config.kernel.descriptor->make_kernel(config.kernel.options);
  MoEOptions moe_options{dims.d_model, dims.d_ff, dims.n_experts, 0, 0.0};
  if (auto it = config.resolved.find("moe.shared_experts"); it != config.resolved.end())
    moe_options.shared_experts = it->second.value.i;
  if (auto it = config.resolved.find("moe.capacity_factor"); it != config.resolved.end())
    moe_options.capacity_factor = it->second.value.as_float();
  for (int64_t layer = 0; layer < dims.n_layers; ++layer) {
    ModelDims layer_dims = dims;
    layer_dims.layer = layer;
    AttentionPtr attention =
        config.attention.descriptor->make_attention(config.attention.options, layer_dims);
    if (!rope_)
      rope_ = config.rope.descriptor->make_rope(config.rope.options,
                                                RopeDims{attention->rope_dim(), dims.seq_len});
    SparsePtr sparse;
    if (config.sparse.descriptor) {
      sparse = config.sparse.descriptor->make_sparse(config.sparse.options, layer_dims);
      if (sparse->rope_dim() > 0)
        sparse->use_rope(config.rope.descriptor->make_rope(config.rope.options,
                                                           RopeDims{sparse->rope_dim(), dims.seq_len}));
    }
    RouterPtr router = config.router.descriptor->make_router(config.router.options, layer_dims);
    Block block(attention, sparse, MoE(moe_options, router), dims.d_model);
    blocks_->push_back(block);
    block_list_.push_back(block);
  }
  final_norm_ = register_module("final_norm", RMSNorm(dims.d_model));
}

void LanguageModelImpl::initialize(double std) { initialize_parameters(*this, std); }

void initialize_parameters(torch::nn::Module& module, double std) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.named_parameters()) {
    const std::string& name = p.key();
    auto& t = p.value();
    if (t.dim() >= 2)
      t.normal_(0.0, std);
    else if (name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0)
      t.zero_();
    else if (name.find("norm") != std::string::npos)
      t.fill_(1.0);
  }
}

torch::Tensor LanguageModelImpl::forward(const torch::Tensor& tokens, ForwardState& state) {
  auto x = forward_hidden(tokens, state);
  ComponentClock::Scope timing(clock_, "head");
  // Tied LM head: logits against the embedding matrix.
  auto logits = torch::matmul(x, embed_->weight.t());
  return clock_ ? clock_->leave(logits, "head") : logits;
}

torch::Tensor LanguageModelImpl::forward_hidden(const torch::Tensor& tokens, ForwardState& state) {
  state.training = is_training();
  torch::Tensor x;
  {
    ComponentClock::Scope timing(clock_, "embedding");
    x = embed_(tokens);
    if (capture_) capture_->embedding = x;
    x = torch::dropout(x, dropout_, is_training());
  }
  KernelArgs args = kernel_args_;
  args.training = is_training();
  for (size_t layer = 0; layer < block_list_.size(); ++layer)
    x = block_list_[layer]->forward(x, state, *kernel_, *rope_, args, dropout_, static_cast<int64_t>(layer));
  ComponentClock::Scope timing(clock_, "head");
  return final_norm_(clock_ ? clock_->enter(x, "head") : x);
}

void LanguageModelImpl::set_component_clock(ComponentClock* clock) {
  clock_ = clock;
  for (auto& block : block_list_) {
    block->set_component_clock(clock);
    block->moe()->set_component_clock(clock);
  }
}

void LanguageModelImpl::set_capture(ModelCapture* capture) {
  capture_ = capture;
  for (auto& block : block_list_) block->set_capture(capture);
}

void LanguageModelImpl::set_sparse_mode(const std::string& mode) {
  for (auto& block : block_list_)
    if (block->sparse()) block->sparse()->set_mode(mode);
}

void LanguageModelImpl::after_step() {
  // Gradient-free router updates belong to the router group: a stage that freezes it skips them.
  for (auto& block : block_list_) {
    Router& router = block->moe()->router();
    const auto parameters = router.parameters();
    const bool trains = std::any_of(parameters.begin(), parameters.end(),
                                    [](const torch::Tensor& p) { return p.requires_grad(); });
    if (trains) router.after_step();
  }
}

std::string parameter_group(const std::string& name) {
  if (name.rfind("embed.", 0) == 0) return "embedding";
  if (name.find("norm.") != std::string::npos && name.find(".attn.") == std::string::npos &&
      name.find(".sparse.") == std::string::npos)
    return "norms";
  if (name.find(".attn.") != std::string::npos) return "attention";
  if (name.find(".sparse.") != std::string::npos) return "sparse";
  if (name.find(".moe.router.") != std::string::npos) return "router";
  if (name.find(".moe.") != std::string::npos) return "experts";
  return "other";
}

std::string parameter_component(const std::string& name) {
  std::string group = parameter_group(name);
  for (const char* marker : {".attn.", ".sparse."}) {
    auto at = name.find(marker);
    if (at == std::string::npos) continue;
    std::string rest = name.substr(at + std::string(marker).size());
    auto dot = rest.find('.');
    return group + "." + (dot == std::string::npos ? rest : rest.substr(0, dot));
  }
  return group;
}

std::string attention_part(const std::string& submodule) {
  auto starts = [&](const char* prefix) { return submodule.rfind(prefix, 0) == 0; };
  if (submodule.find("norm") != std::string::npos) return "norms";
  if (starts("q_") || submodule == "q") return "q";
  if (starts("kv_") || starts("k_") || starts("v_")) return "kv";
  if (starts("o_") || starts("out")) return "output";
  return "other";
}

ParameterCounts count_parameters(torch::nn::Module& model, int64_t n_experts, int64_t top_k) {
  ParameterCounts counts;
  int64_t experts = 0;
  for (const auto& p : model.named_parameters()) {
    int64_t n = p.value().numel();
    counts.total += n;
    const std::string component = parameter_component(p.key());
    counts.by_component[component] += n;
    if (component.rfind("attention.", 0) == 0)
      counts.attention_parts[attention_part(component.substr(10))] += n;
    // Routed expert stacks only: shared experts are active for every token.
    if (parameter_group(p.key()) == "experts" && p.key().find(".moe.shared_") == std::string::npos)
      experts += n;
  }
  counts.active = counts.total - experts + experts * top_k / std::max<int64_t>(n_experts, 1);
  return counts;
}

}  // namespace lab
