#include "flash2_cpu.hpp"

#include "flash2_cpu_kernels.hpp"

#include <ATen/Dispatch.h>
#include <torch/torch.h>

namespace lab::flash2 {

namespace {

// AVX2+FMA kernels when the build has them and the processor runs them; LibTorch's vector types
// otherwise fall back to plain loops the compiler vectorises for the baseline instruction set.
bool use_avx2(const Params& p) {
#if defined(LAB_FLASH2_HAVE_AVX2)
  static const bool cpu_has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return cpu_has && !p.baseline_isa;
#else
  (void)p;
  return false;
#endif
}

}  // namespace

ForwardResult cpu_forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                          const Params& p) {
  const Shape s(q, k, v);
  ForwardResult r;
  r.out = torch::empty({q.size(0), q.size(1), s.tq, s.dv}, q.options());
  r.lse = torch::empty({q.size(0), q.size(1), s.tq}, q.options());
  AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "flash2_cpu_forward", [&] {
    const auto* qp = q.data_ptr<scalar_t>();
    const auto* kp = k.data_ptr<scalar_t>();
    const auto* vp = v.data_ptr<scalar_t>();
    if (use_avx2(p)) {
      isa_avx2::forward(qp, kp, vp, r.out.data_ptr<scalar_t>(), r.lse.data_ptr<scalar_t>(), s, p);
    } else {
      isa_default::forward(qp, kp, vp, r.out.data_ptr<scalar_t>(), r.lse.data_ptr<scalar_t>(), s, p);
    }
  });
  return r;
}

Gradients cpu_backward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                       const torch::Tensor& out, const torch::Tensor& lse, const torch::Tensor& dout,
                       const Params& p) {
  const Shape s(q, k, v);
  const auto delta = (dout * out).sum(-1).contiguous();
  Gradients g;
  g.dq = torch::zeros_like(q);  // accumulated into
  g.dk = torch::empty_like(k);  // every tile is written once
  g.dv = torch::empty_like(v);
  AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "flash2_cpu_backward", [&] {
    BackwardIo<scalar_t> io{q.data_ptr<scalar_t>(),    k.data_ptr<scalar_t>(),    v.data_ptr<scalar_t>(),
                            lse.data_ptr<scalar_t>(),  dout.data_ptr<scalar_t>(), delta.data_ptr<scalar_t>(),
                            g.dq.data_ptr<scalar_t>(), g.dk.data_ptr<scalar_t>(), g.dv.data_ptr<scalar_t>()};
    if (use_avx2(p)) {
      isa_avx2::backward(io, s, p);
    } else {
      isa_default::backward(io, s, p);
    }
  });
  return g;
}

}  // namespace lab::flash2
