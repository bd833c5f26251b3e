// One thread block per (batch, head, query): threads share the query's selected keys; the softmax
// lives in shared memory (K floats), key and value gradients are scattered with atomics.
#include "cuda_kernels.hpp"

#include <ATen/cuda/CUDAContext.h>
#include <torch/torch.h>

namespace dsa::cuda {

namespace {

constexpr int kThreads = 128;

template <typename T>
__device__ T block_sum(T value, T* scratch) {
  scratch[threadIdx.x] = value;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) scratch[threadIdx.x] += scratch[threadIdx.x + stride];
    __syncthreads();
  }
  T total = scratch[0];
  __syncthreads();
  return total;
}

template <typename T>
__device__ T block_max(T value, T* scratch) {
  scratch[threadIdx.x] = value;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) scratch[threadIdx.x] = max(scratch[threadIdx.x], scratch[threadIdx.x + stride]);
    __syncthreads();
  }
  T total = scratch[0];
  __syncthreads();
  return total;
}

template <typename T>
__global__ void forward_kernel(const T* q, const T* k, const T* v, const int64_t* idx, T scale, int64_t heads,
                               int64_t t_len, int64_t s_len, int64_t top_k, int64_t dqk, int64_t dv, T* out,
                               T* probs) {
  extern __shared__ unsigned char shared_raw[];
  T* p = reinterpret_cast<T*>(shared_raw);  // [top_k]
  T* scratch = p + top_k;                   // [kThreads]
  const int64_t row = blockIdx.x;           // (b * heads + h) * t_len + t
  const int64_t bh = row / t_len, t = row % t_len, b = bh / heads;
  const T* qr = q + row * dqk;
  const int64_t* ir = idx + (b * t_len + t) * top_k;
  const T* kb = k + bh * s_len * dqk;
  const T* vb = v + bh * s_len * dv;
  T local_max = -INFINITY;
  for (int64_t j = threadIdx.x; j < top_k; j += blockDim.x) {
    const int64_t s = ir[j];
    T score = -INFINITY;
    if (s >= 0) {
      score = 0;
      for (int64_t d = 0; d < dqk; ++d) score += qr[d] * kb[s * dqk + d];
      score *= scale;
    }
    p[j] = score;
    local_max = max(local_max, score);
  }
  const T top = block_max(local_max, scratch);
  T local_sum = 0;
  for (int64_t j = threadIdx.x; j < top_k; j += blockDim.x) {
    p[j] = (ir[j] < 0 || top == -INFINITY) ? T(0) : exp(p[j] - top);
    local_sum += p[j];
  }
  const T sum = block_sum(local_sum, scratch);
  const T inv = sum > 0 ? T(1) / sum : T(0);
  for (int64_t j = threadIdx.x; j < top_k; j += blockDim.x) {
    p[j] *= inv;
    probs[row * top_k + j] = p[j];
  }
  __syncthreads();
  for (int64_t d = threadIdx.x; d < dv; d += blockDim.x) {
    T acc = 0;
    for (int64_t j = 0; j < top_k; ++j)
      if (ir[j] >= 0) acc += p[j] * vb[ir[j] * dv + d];
    out[row * dv + d] = acc;
  }
}

template <typename T>
__global__ void backward_kernel(const T* q, const T* k, const T* v, const int64_t* idx, const T* probs,
                                const T* grad_out, T scale, int64_t heads, int64_t t_len, int64_t s_len,
                                int64_t top_k, int64_t dqk, int64_t dv, T* grad_q, T* grad_k, T* grad_v) {
  extern __shared__ unsigned char shared_raw[];
  T* ds = reinterpret_cast<T*>(shared_raw);  // [top_k]
  T* scratch = ds + top_k;                   // [kThreads]
  const int64_t row = blockIdx.x;
  const int64_t bh = row / t_len, t = row % t_len, b = bh / heads;
  const T* qr = q + row * dqk;
  const T* gor = grad_out + row * dv;
  const T* pr = probs + row * top_k;
  const int64_t* ir = idx + (b * t_len + t) * top_k;
  const T* kb = k + bh * s_len * dqk;
  const T* vb = v + bh * s_len * dv;
  T local = 0;
  for (int64_t j = threadIdx.x; j < top_k; j += blockDim.x) {
    T dp = 0;
    if (ir[j] >= 0)
      for (int64_t d = 0; d < dv; ++d) dp += gor[d] * vb[ir[j] * dv + d];
    ds[j] = dp;
    local += pr[j] * dp;
  }
  const T delta = block_sum(local, scratch);
  for (int64_t j = threadIdx.x; j < top_k; j += blockDim.x) ds[j] = pr[j] * (ds[j] - delta) * scale;
  __syncthreads();
  for (int64_t d = threadIdx.x; d < dqk; d += blockDim.x) {
    T acc = 0;
    for (int64_t j = 0; j < top_k; ++j)
      if (ir[j] >= 0) acc += ds[j] * kb[ir[j] * dqk + d];
    grad_q[row * dqk + d] = acc;
  }
  T* gk = grad_k + bh * s_len * dqk;
  T* gv = grad_v + bh * s_len * dv;
  for (int64_t j = 0; j < top_k; ++j) {
    const int64_t s = ir[j];
    if (s < 0) continue;
    for (int64_t d = threadIdx.x; d < dqk; d += blockDim.x) atomicAdd(gk + s * dqk + d, ds[j] * qr[d]);
    for (int64_t d = threadIdx.x; d < dv; d += blockDim.x) atomicAdd(gv + s * dv + d, pr[j] * gor[d]);
  }
}

}  // namespace

void forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, const torch::Tensor& idx,
             double scale, torch::Tensor& out, torch::Tensor& probs) {
  const int64_t b = q.size(0), h = q.size(1), t = q.size(2), s = k.size(2), n = idx.size(2);
  out = torch::empty({b, h, t, v.size(3)}, q.options());
  probs = torch::empty({b, h, t, n}, q.options());
  if (out.numel() == 0) return;
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "dsa_cuda_forward", [&] {
    const size_t shared = (n + kThreads) * sizeof(scalar_t);
    forward_kernel<scalar_t><<<b * h * t, kThreads, shared, stream>>>(
        q.data_ptr<scalar_t>(), k.data_ptr<scalar_t>(), v.data_ptr<scalar_t>(), idx.data_ptr<int64_t>(),
        static_cast<scalar_t>(scale), h, t, s, n, q.size(3), v.size(3), out.data_ptr<scalar_t>(),
        probs.data_ptr<scalar_t>());
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void backward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
              const torch::Tensor& idx, const torch::Tensor& probs, const torch::Tensor& grad_out,
              double scale, torch::Tensor& grad_q, torch::Tensor& grad_k, torch::Tensor& grad_v) {
  const int64_t b = q.size(0), h = q.size(1), t = q.size(2), s = k.size(2), n = idx.size(2);
  grad_q = torch::zeros_like(q);
  grad_k = torch::zeros_like(k);
  grad_v = torch::zeros_like(v);
  if (q.numel() == 0) return;
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "dsa_cuda_backward", [&] {
    const size_t shared = (n + kThreads) * sizeof(scalar_t);
    backward_kernel<scalar_t><<<b * h * t, kThreads, shared, stream>>>(
        q.data_ptr<scalar_t>(), k.data_ptr<scalar_t>(), v.data_ptr<scalar_t>(), idx.data_ptr<int64_t>(),
        probs.data_ptr<scalar_t>(), grad_out.data_ptr<scalar_t>(), static_cast<scalar_t>(scale), h, t, s, n,
        q.size(3), v.size(3), grad_q.data_ptr<scalar_t>(), grad_k.data_ptr<scalar_t>(),
        grad_v.data_ptr<scalar_t>());
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace dsa::cuda
