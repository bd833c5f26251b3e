#include "cpu_kernels.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <vector>

// The float loops are built for several instruction sets, chosen by CPU feature at load time, so one binary
// is fast on AVX-512 and AVX2 machines and still runs on any x86-64.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define DSA_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#define DSA_INLINE __attribute__((always_inline)) inline
#else
#define DSA_CLONES
#define DSA_INLINE inline
#endif

namespace dsa::cpu {

namespace {

// Sixteen independent partial sums let the compiler vectorise without reordering a single sum.
template <typename T>
DSA_INLINE T dot(const T* __restrict a, const T* __restrict b, int64_t n) {
  T acc[16] = {};
  int64_t d = 0;
  for (; d + 16 <= n; d += 16)
    for (int i = 0; i < 16; ++i) acc[i] += a[d + i] * b[d + i];
  T sum = 0;
  for (int i = 0; i < 16; ++i) sum += acc[i];
  for (; d < n; ++d) sum += a[d] * b[d];
  return sum;
}

template <typename T>
DSA_INLINE void axpy(T* __restrict y, T alpha, const T* __restrict x, int64_t n) {
  for (int64_t d = 0; d < n; ++d) y[d] += alpha * x[d];
}

struct Shape {
  int64_t heads, t, s, k, dqk, dv;
};

// One (batch, head): every query attends to its selected keys; probs keep the softmax for backward.
template <typename T>
DSA_INLINE void forward_task(const T* q, const T* k, const T* v, const int64_t* idx, T scale, const Shape& n,
                             T* out, T* probs) {
  const T neg_inf = -std::numeric_limits<T>::infinity();
  for (int64_t t = 0; t < n.t; ++t) {
    const T* qr = q + t * n.dqk;
    const int64_t* ir = idx + t * n.k;
    T* pr = probs + t * n.k;
    T* orow = out + t * n.dv;
    T top = neg_inf;
    for (int64_t j = 0; j < n.k; ++j) {
      const int64_t s = ir[j];
      pr[j] = s < 0 ? neg_inf : dot(qr, k + s * n.dqk, n.dqk) * scale;
      top = std::max(top, pr[j]);
    }
    for (int64_t d = 0; d < n.dv; ++d) orow[d] = 0;
    if (top == neg_inf) {  // no key at all: zero output, zero probabilities
      for (int64_t j = 0; j < n.k; ++j) pr[j] = 0;
      continue;
    }
    T sum = 0;
    for (int64_t j = 0; j < n.k; ++j) {
      pr[j] = ir[j] < 0 ? T(0) : std::exp(pr[j] - top);
      sum += pr[j];
    }
    const T inv = T(1) / sum;
    for (int64_t j = 0; j < n.k; ++j) {
      if (ir[j] < 0) continue;
      pr[j] *= inv;
      axpy(orow, pr[j], v + ir[j] * n.dv, n.dv);
    }
  }
}

// Softmax backward on the selected set: ds = p·(dp − Σ p·dp); keys and values of one head are written
// only by that head's task, so the scatter needs no locks.
template <typename T>
DSA_INLINE void backward_task(const T* q, const T* k, const T* v, const int64_t* idx, const T* probs,
                              const T* grad_out, T scale, const Shape& n, T* grad_q, T* grad_k, T* grad_v) {
  std::vector<T> dp(static_cast<size_t>(n.k));
  for (int64_t t = 0; t < n.t; ++t) {
    const T* qr = q + t * n.dqk;
    const int64_t* ir = idx + t * n.k;
    const T* pr = probs + t * n.k;
    const T* gor = grad_out + t * n.dv;
    T* gqr = grad_q + t * n.dqk;
    T delta = 0;
    for (int64_t j = 0; j < n.k; ++j) {
      dp[j] = ir[j] < 0 ? T(0) : dot(gor, v + ir[j] * n.dv, n.dv);
      delta += pr[j] * dp[j];
    }
    for (int64_t j = 0; j < n.k; ++j) {
      const int64_t s = ir[j];
      if (s < 0 || pr[j] == 0) continue;
      const T ds = pr[j] * (dp[j] - delta) * scale;
      axpy(gqr, ds, k + s * n.dqk, n.dqk);
      axpy(grad_k + s * n.dqk, ds, qr, n.dqk);
      axpy(grad_v + s * n.dv, pr[j], gor, n.dv);
    }
  }
}

DSA_CLONES void forward_task_f32(const float* q, const float* k, const float* v, const int64_t* idx,
                                 float scale, const Shape& n, float* out, float* probs) {
  forward_task<float>(q, k, v, idx, scale, n, out, probs);
}

DSA_CLONES void backward_task_f32(const float* q, const float* k, const float* v, const int64_t* idx,
                                  const float* probs, const float* grad_out, float scale, const Shape& n,
                                  float* grad_q, float* grad_k, float* grad_v) {
  backward_task<float>(q, k, v, idx, probs, grad_out, scale, n, grad_q, grad_k, grad_v);
}

void forward_task_any(const float* q, const float* k, const float* v, const int64_t* idx, float scale,
                      const Shape& n, float* out, float* probs) {
  forward_task_f32(q, k, v, idx, scale, n, out, probs);
}
void forward_task_any(const double* q, const double* k, const double* v, const int64_t* idx, double scale,
                      const Shape& n, double* out, double* probs) {
  forward_task<double>(q, k, v, idx, scale, n, out, probs);
}
void backward_task_any(const float* q, const float* k, const float* v, const int64_t* idx, const float* probs,
                       const float* grad_out, float scale, const Shape& n, float* gq, float* gk, float* gv) {
  backward_task_f32(q, k, v, idx, probs, grad_out, scale, n, gq, gk, gv);
}
void backward_task_any(const double* q, const double* k, const double* v, const int64_t* idx,
                       const double* probs, const double* grad_out, double scale, const Shape& n, double* gq,
                       double* gk, double* gv) {
  backward_task<double>(q, k, v, idx, probs, grad_out, scale, n, gq, gk, gv);
}

Shape shape_of(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
               const torch::Tensor& idx) {
  return Shape{q.size(1), q.size(2), k.size(2), idx.size(2), q.size(3), v.size(3)};
}

}  // namespace

void forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, const torch::Tensor& idx,
             double scale, torch::Tensor& out, torch::Tensor& probs) {
  const Shape n = shape_of(q, k, v, idx);
  const int64_t batch = q.size(0);
  out = torch::empty({batch, n.heads, n.t, n.dv}, q.options());
  probs = torch::empty({batch, n.heads, n.t, n.k}, q.options());
  AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "dsa_sparse_forward", [&] {
    const auto* qp = q.data_ptr<scalar_t>();
    const auto* kp = k.data_ptr<scalar_t>();
    const auto* vp = v.data_ptr<scalar_t>();
    const auto* ip = idx.data_ptr<int64_t>();
    auto* op = out.data_ptr<scalar_t>();
    auto* pp = probs.data_ptr<scalar_t>();
    at::parallel_for(0, batch * n.heads, 1, [&](int64_t begin, int64_t end) {
      for (int64_t bh = begin; bh < end; ++bh) {
        const int64_t b = bh / n.heads;
        forward_task_any(qp + bh * n.t * n.dqk, kp + bh * n.s * n.dqk, vp + bh * n.s * n.dv,
                         ip + b * n.t * n.k, static_cast<scalar_t>(scale), n, op + bh * n.t * n.dv,
                         pp + bh * n.t * n.k);
      }
    });
  });
}

void backward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
              const torch::Tensor& idx, const torch::Tensor& probs, const torch::Tensor& grad_out,
              double scale, torch::Tensor& grad_q, torch::Tensor& grad_k, torch::Tensor& grad_v) {
  const Shape n = shape_of(q, k, v, idx);
  const int64_t batch = q.size(0);
  grad_q = torch::zeros_like(q);
  grad_k = torch::zeros_like(k);
  grad_v = torch::zeros_like(v);
  AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "dsa_sparse_backward", [&] {
    const auto* qp = q.data_ptr<scalar_t>();
    const auto* kp = k.data_ptr<scalar_t>();
    const auto* vp = v.data_ptr<scalar_t>();
    const auto* ip = idx.data_ptr<int64_t>();
    const auto* pp = probs.data_ptr<scalar_t>();
    const auto* gp = grad_out.data_ptr<scalar_t>();
    auto* gq = grad_q.data_ptr<scalar_t>();
    auto* gk = grad_k.data_ptr<scalar_t>();
    auto* gv = grad_v.data_ptr<scalar_t>();
    at::parallel_for(0, batch * n.heads, 1, [&](int64_t begin, int64_t end) {
      for (int64_t bh = begin; bh < end; ++bh) {
        const int64_t b = bh / n.heads;
        backward_task_any(qp + bh * n.t * n.dqk, kp + bh * n.s * n.dqk, vp + bh * n.s * n.dv,
                          ip + b * n.t * n.k, pp + bh * n.t * n.k, gp + bh * n.t * n.dv,
                          static_cast<scalar_t>(scale), n, gq + bh * n.t * n.dqk, gk + bh * n.s * n.dqk,
                          gv + bh * n.s * n.dv);
      }
    });
  });
}

}  // namespace dsa::cpu
