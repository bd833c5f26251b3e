#include "cpu_kernels.hpp"

#include "vector_ops.hpp"

#include <lab/simd_exp.hpp>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace dsa::cpu {

namespace {

struct Shape {
  int64_t heads, t, s, k, dqk, dv;
};

// Keys per block: a block's rows of k, v and their gradients (4 · 512 · 64 floats = 512 KiB for
// D = 64) stay in a core's L2 cache while every query's selected keys in that block are visited.
constexpr int64_t kKeyBlock = 512;

// Visits, key block by key block, every (query t, slot j) whose selected key idx[t][j] lies in the
// block, calling visit(t, j, s). Selections are ascending with the -1 padding first (visited with
// s = -1 in the first block), so a cursor per query walks each row once in all.
template <typename Visit>
DSA_INLINE void for_each_selected_by_key_block(const int64_t* idx, const Shape& n,
                                               std::vector<int64_t>& cursor, Visit&& visit) {
  cursor.assign(static_cast<size_t>(n.t), 0);
  for (int64_t r1 = std::min(n.s, kKeyBlock);; r1 = std::min(n.s, r1 + kKeyBlock)) {
    for (int64_t t = 0; t < n.t; ++t) {
      const int64_t* ir = idx + t * n.k;
      int64_t j = cursor[t];
      for (; j < n.k && ir[j] < r1; ++j) visit(t, j, ir[j]);
      cursor[t] = j;
    }
    if (r1 >= n.s) break;
  }
}

// Softmax of each row of x [rows, k] in place; -inf entries (padding) get 0, all -inf rows all 0.
template <typename T>
void softmax_rows_scalar(T* x, int64_t rows, int64_t k) {
  const T neg_inf = -std::numeric_limits<T>::infinity();
  for (int64_t t = 0; t < rows; ++t) {
    T* pr = x + t * k;
    T top = neg_inf;
    for (int64_t j = 0; j < k; ++j) top = std::max(top, pr[j]);
    if (top == neg_inf) {  // no key at all: zero output, zero probabilities
      std::fill(pr, pr + k, T(0));
      continue;
    }
    T sum = 0;
    for (int64_t j = 0; j < k; ++j) sum += (pr[j] = std::exp(pr[j] - top));  // exp(-inf) = 0
    const T inv = T(1) / sum;
    for (int64_t j = 0; j < k; ++j) pr[j] *= inv;
  }
}

#ifdef LAB_HAVE_SIMD_EXP
LAB_TARGET_AVX2 void softmax_rows_avx2(float* x, int64_t rows, int64_t k) {
  const float neg_inf = -std::numeric_limits<float>::infinity();
  for (int64_t t = 0; t < rows; ++t) {
    float* pr = x + t * k;
    const float top = lab::simd::row_max(pr, k, neg_inf);
    if (top == neg_inf) {  // no key at all: zero probabilities
      std::fill(pr, pr + k, 0.0f);
      continue;
    }
    lab::simd::scale_row(1.0f / lab::simd::exp_shifted(pr, k, top), pr, k);  // exp(-inf) = 0
  }
}
#endif

void softmax_rows(float* x, int64_t rows, int64_t k) {
#ifdef LAB_HAVE_SIMD_EXP
  if (lab::simd::has_avx2()) return softmax_rows_avx2(x, rows, k);
#endif
  softmax_rows_scalar(x, rows, k);
}
void softmax_rows(double* x, int64_t rows, int64_t k) { softmax_rows_scalar(x, rows, k); }

// One (batch, head): scores of every selected pair (key-blocked), a softmax per query, then the
// weighted values (key-blocked again). probs keeps the softmax for backward.
template <typename T>
DSA_INLINE void forward_task(const T* q, const T* k, const T* v, const int64_t* idx, T scale, const Shape& n,
                             T* out, T* probs, std::vector<int64_t>& cursor) {
  const T neg_inf = -std::numeric_limits<T>::infinity();
  for_each_selected_by_key_block(idx, n, cursor, [&](int64_t t, int64_t j, int64_t s) {
    probs[t * n.k + j] = s < 0 ? neg_inf : dot(q + t * n.dqk, k + s * n.dqk, n.dqk) * scale;
  });
  softmax_rows(probs, n.t, n.k);
  std::fill(out, out + n.t * n.dv, T(0));
  for_each_selected_by_key_block(idx, n, cursor, [&](int64_t t, int64_t j, int64_t s) {
    if (s >= 0) axpy(out + t * n.dv, probs[t * n.k + j], v + s * n.dv, n.dv);
  });
}

// Softmax backward on the selected set, pair by pair: ds = p·(dO·v_s − D) with D = dO·O (equal to
// Σ p·dp), so pairs are independent and can be visited key block by key block. Keys and values of
// one head are written only by that head's task, so the scatter needs no locks.
template <typename T>
DSA_INLINE void backward_task(const T* q, const T* k, const T* v, const int64_t* idx, const T* probs,
                              const T* out, const T* grad_out, T scale, const Shape& n, T* grad_q, T* grad_k,
                              T* grad_v, std::vector<int64_t>& cursor, std::vector<T>& delta) {
  delta.resize(static_cast<size_t>(n.t));
  for (int64_t t = 0; t < n.t; ++t) delta[t] = dot(grad_out + t * n.dv, out + t * n.dv, n.dv);
  for_each_selected_by_key_block(idx, n, cursor, [&](int64_t t, int64_t j, int64_t s) {
    const T p = probs[t * n.k + j];
    if (s < 0 || p == 0) return;
    const T* gor = grad_out + t * n.dv;
    const T ds = p * (dot(gor, v + s * n.dv, n.dv) - delta[t]) * scale;
    axpy(grad_q + t * n.dqk, ds, k + s * n.dqk, n.dqk);
    axpy(grad_k + s * n.dqk, ds, q + t * n.dqk, n.dqk);
    axpy(grad_v + s * n.dv, p, gor, n.dv);
  });
}

DSA_CLONES void forward_task_f32(const float* q, const float* k, const float* v, const int64_t* idx,
                                 float scale, const Shape& n, float* out, float* probs,
                                 std::vector<int64_t>& cursor) {
  forward_task<float>(q, k, v, idx, scale, n, out, probs, cursor);
}

DSA_CLONES void backward_task_f32(const float* q, const float* k, const float* v, const int64_t* idx,
                                  const float* probs, const float* out, const float* grad_out, float scale,
                                  const Shape& n, float* grad_q, float* grad_k, float* grad_v,
                                  std::vector<int64_t>& cursor, std::vector<float>& delta) {
  backward_task<float>(q, k, v, idx, probs, out, grad_out, scale, n, grad_q, grad_k, grad_v, cursor, delta);
}

void forward_task_any(const float* q, const float* k, const float* v, const int64_t* idx, float scale,
                      const Shape& n, float* out, float* probs, std::vector<int64_t>& cursor) {
  forward_task_f32(q, k, v, idx, scale, n, out, probs, cursor);
}
void forward_task_any(const double* q, const double* k, const double* v, const int64_t* idx, double scale,
                      const Shape& n, double* out, double* probs, std::vector<int64_t>& cursor) {
  forward_task<double>(q, k, v, idx, scale, n, out, probs, cursor);
}
void backward_task_any(const float* q, const float* k, const float* v, const int64_t* idx, const float* probs,
                       const float* out, const float* grad_out, float scale, const Shape& n, float* gq,
                       float* gk, float* gv, std::vector<int64_t>& cursor, std::vector<float>& delta) {
  backward_task_f32(q, k, v, idx, probs, out, grad_out, scale, n, gq, gk, gv, cursor, delta);
}
void backward_task_any(const double* q, const double* k, const double* v, const int64_t* idx,
                       const double* probs, const double* out, const double* grad_out, double scale,
                       const Shape& n, double* gq, double* gk, double* gv, std::vector<int64_t>& cursor,
                       std::vector<double>& delta) {
  backward_task<double>(q, k, v, idx, probs, out, grad_out, scale, n, gq, gk, gv, cursor, delta);
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
      std::vector<int64_t> cursor;
      for (int64_t bh = begin; bh < end; ++bh) {
        const int64_t b = bh / n.heads;
        forward_task_any(qp + bh * n.t * n.dqk, kp + bh * n.s * n.dqk, vp + bh * n.s * n.dv,
                         ip + b * n.t * n.k, static_cast<scalar_t>(scale), n, op + bh * n.t * n.dv,
                         pp + bh * n.t * n.k, cursor);
      }
    });
  });
}

void backward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
              const torch::Tensor& idx, const torch::Tensor& probs, const torch::Tensor& out,
              const torch::Tensor& grad_out, double scale, torch::Tensor& grad_q, torch::Tensor& grad_k,
              torch::Tensor& grad_v) {
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
    const auto* op = out.data_ptr<scalar_t>();
    const auto* gp = grad_out.data_ptr<scalar_t>();
    auto* gq = grad_q.data_ptr<scalar_t>();
    auto* gk = grad_k.data_ptr<scalar_t>();
    auto* gv = grad_v.data_ptr<scalar_t>();
    at::parallel_for(0, batch * n.heads, 1, [&](int64_t begin, int64_t end) {
      std::vector<int64_t> cursor;
      std::vector<scalar_t> delta;
      for (int64_t bh = begin; bh < end; ++bh) {
        const int64_t b = bh / n.heads;
        backward_task_any(qp + bh * n.t * n.dqk, kp + bh * n.s * n.dqk, vp + bh * n.s * n.dv,
                          ip + b * n.t * n.k, pp + bh * n.t * n.k, op + bh * n.t * n.dv, gp + bh * n.t * n.dv,
                          static_cast<scalar_t>(scale), n, gq + bh * n.t * n.dqk, gk + bh * n.s * n.dqk,
                          gv + bh * n.s * n.dv, cursor, delta);
      }
    });
  });
}

}  // namespace dsa::cpu
