#include "audit/slot_probes.hpp"

#include "recipe/config.hpp"

#include <lab/reference_attention.hpp>

#include <torch/torch.h>

#include <cmath>

namespace lab {

namespace {

class ReferenceKernel : public Kernel {
 public:
  torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                       const KernelArgs& args) const override {
    return reference_attention(q, k, v, args);
  }
};

// Rotates nothing: position-free, so an attention plugin is judged on its own.
class IdentityRope : public Rope {
 public:
  explicit IdentityRope(int64_t dim) : dim_(dim) {}
  torch::Tensor apply(const torch::Tensor& x, int64_t) const override { return x; }
  std::pair<torch::Tensor, torch::Tensor> tables(int64_t seq_len, torch::Device device) const override {
    auto options = torch::TensorOptions().device(device);
    return {torch::ones({seq_len, dim_ / 2}, options), torch::zeros({seq_len, dim_ / 2}, options)};
  }
  int64_t dim() const override { return dim_; }

 private:
  int64_t dim_;
};

class ProbeAttend : public AttendContext {
 public:
  ProbeAttend(const Rope& rope, const KernelArgs& args) : rope_(rope), args_(args) {
    state_.training = args.training;
  }
  torch::Tensor attend(const torch::Tensor&, const torch::Tensor& q, const torch::Tensor& k,
                       const torch::Tensor& v, double scale) override {
    KernelArgs args = args_;
    args.scale = scale * rope_.softmax_scale_factor();
    return kernel_.attend(q, k, v, args);
  }
  const Rope& rope() const override { return rope_; }
  ForwardState& state() override { return state_; }

 private:
  ReferenceKernel kernel_;
  const Rope& rope_;
  KernelArgs args_;
  ForwardState state_;
};

struct Shape {
  int64_t b, t, h, d, model;
};

Shape shape_of(const Config& c, const ProbePlan& plan) {
  const int64_t heads = std::max<int64_t>(c.dims.n_heads, 1);
  return {plan.batch, c.dims.seq_len, heads, std::max<int64_t>(c.dims.d_model / heads, 2), c.dims.d_model};
}

KernelArgs kernel_args(const Config& c, int64_t head_dim, bool training) {
  KernelArgs args;
  args.scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  args.causal = true;
  args.dropout = c.attention_dropout;
  args.training = training;
  return args;
}

ModelDims layer0(const Config& c) {
  ModelDims dims = c.dims;
  dims.layer = 0;
  return dims;
}

// [B, T, H, D] <-> [B, H, T, D]: the probe lays positions on dim 1, kernels on dim 2.
torch::Tensor heads_first(const torch::Tensor& x) { return x.transpose(1, 2); }

}  // namespace

ChangeLog probe_kernel(const Config& config, const ProbePlan& plan) {
  const Shape s = shape_of(config, plan);
  return probe_component(
      [&] {
        std::shared_ptr<const Kernel> kernel = config.kernel.descriptor->make_kernel(config.kernel.options);
        Component c;
        c.input_shapes = {{s.b, s.t, s.h, s.d}, {s.b, s.t, s.h, s.d}, {s.b, s.t, s.h, s.d}};
        c.input_names = {"q", "k", "v"};
        c.forward = [kernel, s, &config](const std::vector<torch::Tensor>& in, bool training) {
          auto out = kernel->attend(heads_first(in[0]), heads_first(in[1]), heads_first(in[2]),
                                    kernel_args(config, s.d, training));
          return NamedOutputs{{"kernel output", heads_first(out)}};
        };
        return c;
      },
      plan);
}

ChangeLog probe_rope(const Config& config, const ProbePlan& plan) {
  const Shape s = shape_of(config, plan);
  const int64_t dim =
      config.attention.descriptor->make_attention(config.attention.options, layer0(config))->rope_dim();
  return probe_component(
      [&] {
        std::shared_ptr<const Rope> rope =
            config.rope.descriptor->make_rope(config.rope.options, RopeDims{dim, s.t});
        Component c;
        c.input_shapes = {{s.b, s.t, s.h, dim}};
        c.input_names = {"x"};
        c.forward = [rope](const std::vector<torch::Tensor>& in, bool) {
          return NamedOutputs{{"rotated vectors", heads_first(rope->apply(heads_first(in[0])))}};
        };
        return c;
      },
      plan);
}

ChangeLog probe_attention(const Config& config, const ProbePlan& plan) {
  const Shape s = shape_of(config, plan);
  return probe_component(
      [&] {
        AttentionPtr attention =
            config.attention.descriptor->make_attention(config.attention.options, layer0(config));
        auto rope = std::make_shared<IdentityRope>(attention->rope_dim());
        Component c;
        c.module = attention;
        c.input_shapes = {{s.b, s.t, s.model}};
        c.input_names = {"x"};
        c.forward = [attention, rope, s, &config](const std::vector<torch::Tensor>& in, bool training) {
          ProbeAttend ctx(*rope, kernel_args(config, s.d, training));
          return NamedOutputs{{"attention output", attention->forward(in[0], ctx)}};
        };
        return c;
      },
      plan);
}

ChangeLog probe_sparse(const Config& config, const std::string& mode, const ProbePlan& plan) {
  const Shape s = shape_of(config, plan);
  return probe_component(
      [&] {
        SparsePtr sparse = config.sparse.descriptor->make_sparse(config.sparse.options, layer0(config));
        if (sparse->rope_dim() > 0)
          sparse->use_rope(
              config.rope.descriptor->make_rope(config.rope.options, RopeDims{sparse->rope_dim(), s.t}));
        sparse->set_mode(mode);
        Component c;
        c.module = sparse;
        c.input_shapes = {
            {s.b, s.t, s.model}, {s.b, s.t, s.h, s.d}, {s.b, s.t, s.h, s.d}, {s.b, s.t, s.h, s.d}};
        c.input_names = {"x", "q", "k", "v"};
        c.forward = [sparse, s, &config](const std::vector<torch::Tensor>& in, bool training) {
          ReferenceKernel dense;
          ForwardState state;
          state.training = training;
          auto out = sparse->attend(in[0], heads_first(in[1]), heads_first(in[2]), heads_first(in[3]),
                                    kernel_args(config, s.d, training), dense, state);
          return NamedOutputs{{"sparse attention output", heads_first(out)}};
        };
        return c;
      },
      plan);
}

ChangeLog probe_router(const Config& config, const ProbePlan& plan) {
  const Shape s = shape_of(config, plan);
  return probe_component(
      [&] {
        RouterPtr router = config.router.descriptor->make_router(config.router.options, layer0(config));
        Component c;
        c.module = router;
        c.input_shapes = {{s.b, s.t, s.model}};
        c.input_names = {"x"};
        c.forward = [router, s](const std::vector<torch::Tensor>& in, bool training) {
          ForwardState state;
          state.training = training;
          Routing r = router->route_batch(in[0].reshape({s.b * s.t, s.model}), s.t, state);
          NamedOutputs out = {{"expert choice", r.experts.view({s.b, s.t, -1}).to(torch::kFloat64)},
                              {"routing weights", r.weights.view({s.b, s.t, -1})}};
          if (r.probs.defined()) out.emplace_back("router distribution", r.probs.view({s.b, s.t, -1}));
          return out;
        };
        return c;
      },
      plan);
}

}  // namespace lab
