#include "flash2_cuda.hpp"

#include "flash2_kernels.cuh"

#include <lab/error.hpp>

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/torch.h>

#include <string>

namespace lab::flash2 {

namespace {

cuda::Sizes sizes_of(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const Params& p) {
  cuda::Sizes s;
  s.bh = q.size(0) * q.size(1);
  s.tq = q.size(2);
  s.tk = k.size(2);
  s.dk = q.size(3);
  s.dv = v.size(3);
  s.scale = static_cast<float>(p.scale);
  s.causal = p.causal;
  if (s.dk > cuda::kMaxHeadDim || s.dv > cuda::kMaxHeadDim)
    throw InputError("kernel 'flash2': CUDA head dims are limited to " + std::to_string(cuda::kMaxHeadDim) +
                     "; got " + std::to_string(s.dk) + "/" + std::to_string(s.dv));
  return s;
}

cuda::Element element_of(const torch::Tensor& t) {
  return t.scalar_type() == torch::kHalf ? cuda::Element::Half : cuda::Element::BFloat16;
}

void check(cudaError_t e, const char* what) {
  TORCH_CHECK(e == cudaSuccess, "flash2 CUDA ", what, ": ", cudaGetErrorString(e));
}

}  // namespace

ForwardResult cuda_forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                           const Params& p) {
  const c10::cuda::CUDAGuard guard(q.device());
  ForwardResult r;
  r.out = torch::empty({q.size(0), q.size(1), q.size(2), v.size(3)}, q.options());
  r.lse = torch::empty({q.size(0), q.size(1), q.size(2)}, q.options().dtype(torch::kFloat));
  cuda::ForwardArgs a;
  a.sizes = sizes_of(q, k, v, p);
  a.q = q.data_ptr();
  a.k = k.data_ptr();
  a.v = v.data_ptr();
  a.out = r.out.data_ptr();
  a.lse = r.lse.data_ptr<float>();
  check(cuda::forward(a, element_of(q), at::cuda::getCurrentCUDAStream()), "forward");
  return r;
}

Gradients cuda_backward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& out, const torch::Tensor& lse, const torch::Tensor& dout,
                        const Params& p) {
  const c10::cuda::CUDAGuard guard(q.device());
  Gradients g;
  g.dq = torch::empty_like(q);
  g.dk = torch::empty_like(k);
  g.dv = torch::empty_like(v);
  auto delta = torch::empty_like(lse);
  const auto dout16 = dout.to(q.scalar_type()).contiguous();
  cuda::BackwardArgs a;
  a.sizes = sizes_of(q, k, v, p);
  a.q = q.data_ptr();
  a.k = k.data_ptr();
  a.v = v.data_ptr();
  a.out = out.data_ptr();
  a.dout = dout16.data_ptr();
  a.lse = lse.data_ptr<float>();
  a.delta = delta.data_ptr<float>();
  a.dq = g.dq.data_ptr();
  a.dk = g.dk.data_ptr();
  a.dv = g.dv.data_ptr();
  check(cuda::backward(a, element_of(q), at::cuda::getCurrentCUDAStream()), "backward");
  return g;
}

}  // namespace lab::flash2
