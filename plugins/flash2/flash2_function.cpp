#include "flash2_function.hpp"

#ifdef LAB_FLASH2_CUDA
#include "cuda/flash2_cuda.hpp"
#endif

#include <lab/error.hpp>

#include <torch/torch.h>

#include <limits>
#include <sstream>

namespace lab::flash2 {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

ForwardResult run_forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                          const Params& p) {
#ifdef LAB_FLASH2_CUDA
  if (q.is_cuda()) return cuda_forward(q, k, v, p);
#endif
  return cpu_forward(q, k, v, p);
}

Gradients run_backward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                       const torch::Tensor& out, const torch::Tensor& lse, const torch::Tensor& dout,
                       const Params& p) {
#ifdef LAB_FLASH2_CUDA
  if (q.is_cuda()) return cuda_backward(q, k, v, out, lse, dout, p);
#endif
  return cpu_backward(q, k, v, out, lse, dout, p);
}

// Params travel through the autograd context as plain values.
void save_params(AutogradContext* ctx, const Params& p) {
  ctx->saved_data["scale"] = p.scale;
  ctx->saved_data["causal"] = p.causal;
  ctx->saved_data["dropout"] = p.dropout;
  ctx->saved_data["seed"] = static_cast<int64_t>(p.seed);
  ctx->saved_data["block_q"] = p.block_q;
  ctx->saved_data["block_k"] = p.block_k;
  ctx->saved_data["backward"] = static_cast<int64_t>(p.backward);
  ctx->saved_data["baseline_isa"] = p.baseline_isa;
}

Params load_params(AutogradContext* ctx) {
  Params p;
  p.scale = ctx->saved_data["scale"].toDouble();
  p.causal = ctx->saved_data["causal"].toBool();
  p.dropout = ctx->saved_data["dropout"].toDouble();
  p.seed = static_cast<uint64_t>(ctx->saved_data["seed"].toInt());
  p.block_q = ctx->saved_data["block_q"].toInt();
  p.block_k = ctx->saved_data["block_k"].toInt();
  p.backward = static_cast<Params::Backward>(ctx->saved_data["backward"].toInt());
  p.baseline_isa = ctx->saved_data["baseline_isa"].toBool();
  return p;
}

class Flash2Function : public torch::autograd::Function<Flash2Function> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, double scale, bool causal, double dropout,
                               int64_t seed, int64_t block_q, int64_t block_k, int64_t backward,
                               bool baseline_isa) {
    Params p;
    p.scale = scale;
    p.causal = causal;
    p.dropout = dropout;
    p.seed = static_cast<uint64_t>(seed);
    p.block_q = block_q;
    p.block_k = block_k;
    p.backward = static_cast<Params::Backward>(backward);
    p.baseline_isa = baseline_isa;
    auto r = run_forward(q, k, v, p);
    ctx->save_for_backward({q, k, v, r.out, r.lse});
    save_params(ctx, p);
    return r.out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const Params p = load_params(ctx);
    auto g = run_backward(saved[0], saved[1], saved[2], saved[3], saved[4], grads[0].contiguous(), p);
    return {g.dq, g.dk, g.dv, {}, {}, {}, {}, {}, {}, {}, {}};
  }
};

std::string shape_of(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

void check_shapes(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
  const bool ranks = q.dim() == 4 && k.dim() == 4 && v.dim() == 4;
  const bool match = ranks && q.size(0) == k.size(0) && q.size(0) == v.size(0) && q.size(1) == k.size(1) &&
                     q.size(1) == v.size(1) && k.size(2) == v.size(2) && q.size(3) == k.size(3);
  if (!match)
    throw InputError("kernel 'flash2': expected q [B,H,T,D], k [B,H,S,D], v [B,H,S,Dv]; got q " +
                     shape_of(q) + ", k " + shape_of(k) + ", v " + shape_of(v));
  if (q.device() != k.device() || q.device() != v.device())
    throw InputError("kernel 'flash2': q, k and v must be on one device");
}

}  // namespace

bool has_cuda_kernel() {
#ifdef LAB_FLASH2_CUDA
  return true;
#else
  return false;
#endif
}

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, Params p) {
  check_shapes(q, k, v);
  if (p.dropout < 0 || p.dropout >= 1)
    throw InputError("kernel 'flash2': attention dropout must be in [0, 1), got " +
                     std::to_string(p.dropout));
  if (p.dropout > 0) {
    // Drawn from LibTorch's default generator, so torch::manual_seed makes runs repeatable.
    p.seed = static_cast<uint64_t>(
        torch::randint(std::numeric_limits<int64_t>::max(), {1}, torch::kLong).item<int64_t>());
  }
  const auto call = [&](const torch::Tensor& qq, const torch::Tensor& kk, const torch::Tensor& vv) {
    return Flash2Function::apply(qq.contiguous(), kk.contiguous(), vv.contiguous(), p.scale, p.causal,
                                 p.dropout, static_cast<int64_t>(p.seed), p.block_q, p.block_k,
                                 static_cast<int64_t>(p.backward), p.baseline_isa);
  };
  if (q.is_cuda()) {
#ifdef LAB_FLASH2_CUDA
    const auto dtype = q.scalar_type();
    if (dtype != torch::kBFloat16 && dtype != torch::kHalf)
      throw InputError("kernel 'flash2': on CUDA it takes bf16 or fp16 tensors (fp32 accumulation); got " +
                       std::string(c10::toString(dtype)));
    if (p.dropout > 0)
      throw InputError(
          "kernel 'flash2': attention dropout is implemented on the CPU only; set "
          "model.attention_dropout = 0 for CUDA runs");
    return call(q, k, v);
#else
    throw InputError("kernel 'flash2': this build has no CUDA kernel (LibTorch without CUDA)");
#endif
  }
  if (!q.device().is_cpu()) throw InputError("kernel 'flash2': runs on CPU or CUDA tensors only");
  const auto dtype = q.scalar_type();
  if (dtype == torch::kFloat || dtype == torch::kDouble) return call(q, k, v.to(dtype));
  // Low-precision CPU tensors are computed in fp32 and rounded once at the end.
  return call(q.to(torch::kFloat), k.to(torch::kFloat), v.to(torch::kFloat)).to(dtype);
}

}  // namespace lab::flash2
