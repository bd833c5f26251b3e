#include "profile_sparse.hpp"

#include "registry/registry.hpp"

#include <lab/error.hpp>
#include <lab/forward_state.hpp>
#include <lab/plugin.hpp>

#include <torch/torch.h>

namespace lab::app {

SparseAsKernel::SparseAsKernel(SparsePtr sparse, KernelPtr dense, int64_t d_model)
    : sparse_(std::move(sparse)), dense_(std::move(dense)), d_model_(d_model) {}

torch::Tensor SparseAsKernel::attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                     const KernelArgs& args) const {
  if (!x_.defined() || x_.size(0) != q.size(0) || x_.size(1) != q.size(2)) {
    torch::manual_seed(1);
    x_ = torch::randn({q.size(0), q.size(2), d_model_}, q.options().requires_grad(false));
  }
  ForwardState state;
  state.training = args.training && torch::GradMode::is_enabled();
  auto out = sparse_->attend(x_, q, k, v, args, *dense_, state);
  losses_ = torch::zeros({}, q.options().dtype(torch::kFloat));
  for (const auto& [name, loss] : state.aux_losses) losses_ = losses_ + loss.to(torch::kFloat);
  return out;
}

std::shared_ptr<SparseAsKernel> make_sparse_profile(const PluginRegistry& registry, const std::string& name,
                                                    int64_t top_k, const std::map<std::string, Value>& keys,
                                                    const ProfileShape& shape, int64_t max_len,
                                                    KernelPtr dense) {
  const auto& plugin = registry.require(Slot::Sparse, name);
  auto overrides = keys;
  overrides["top_k"] = Value::of(top_k);
  const Options options = default_options(plugin, overrides);
  ModelDims dims;
  dims.d_model = shape.heads * shape.head_dim;
  dims.n_heads = shape.heads;
  Problems problems;
  if (plugin.validate) plugin.validate(options, dims, problems);
  for (const auto& problem : problems)
    throw InputError("--sparse " + name + ": key '" + problem.key + "': " + problem.message);
  auto sparse = plugin.make_sparse(options, dims);
  if (sparse->rope_dim() > 0) {
    const auto& rope = registry.require(Slot::Rope, "rope");
    sparse->use_rope(rope.make_rope(default_options(rope), RopeDims{sparse->rope_dim(), max_len}));
  }
  sparse->to(shape.device, shape.dtype);
  sparse->train();
  return std::make_shared<SparseAsKernel>(sparse, std::move(dense), dims.d_model);
}

}  // namespace lab::app
