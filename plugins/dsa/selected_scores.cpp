#include "selected_scores.hpp"

#include "vector_ops.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <vector>

namespace dsa {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct Dims {
  int64_t batch, t, s, heads, dim, k;
};

Dims dims_of(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& idx) {
  return Dims{q.size(0), q.size(1), k.size(1), q.size(2), q.size(3), idx.size(2)};
}

// One query: I[j] = Σ_h w_h·ReLU(q_h·k_s) for its selected keys (q [HI, dI], w [HI], k the batch's keys).
template <typename T>
DSA_INLINE void scores_row(const T* q, const T* w, const T* k, const int64_t* idx, const Dims& n, T* out) {
  for (int64_t j = 0; j < n.k; ++j) {
    const int64_t s = idx[j];
    if (s < 0) continue;
    const T* kr = k + s * n.dim;
    T acc = 0;
    for (int64_t h = 0; h < n.heads; ++h) acc += w[h] * std::max<T>(dot(q + h * n.dim, kr, n.dim), 0);
    out[j] = acc;
  }
}

// One query's backward: ∂w_h += g·ReLU(r_h), ∂q_h += g·w_h·1(r_h>0)·k_s, ∂k_s += g·w_h·1(r_h>0)·q_h.
// r = q_h·k_s comes from `products` [K, HI] when the selection saved it, else is recomputed.
template <typename T>
DSA_INLINE void scores_row_backward(const T* q, const T* w, const T* k, const int64_t* idx, const T* g,
                                    const T* products, const Dims& n, T* gq, T* gw, T* gk) {
  for (int64_t j = 0; j < n.k; ++j) {
    const int64_t s = idx[j];
    const T gs = g[j];
    if (s < 0 || gs == 0) continue;
    const T* kr = k + s * n.dim;
    T* gkr = gk + s * n.dim;
    for (int64_t h = 0; h < n.heads; ++h) {
      const T r = products ? products[j * n.heads + h] : dot(q + h * n.dim, kr, n.dim);
      if (r <= 0) continue;
      gw[h] += gs * r;
      const T c = gs * w[h];
      axpy(gq + h * n.dim, c, kr, n.dim);
      axpy(gkr, c, q + h * n.dim, n.dim);
    }
  }
}

DSA_CLONES void scores_row_f32(const float* q, const float* w, const float* k, const int64_t* idx,
                               const Dims& n, float* out) {
  scores_row<float>(q, w, k, idx, n, out);
}
DSA_CLONES void scores_row_backward_f32(const float* q, const float* w, const float* k, const int64_t* idx,
                                        const float* g, const float* products, const Dims& n, float* gq,
                                        float* gw, float* gk) {
  scores_row_backward<float>(q, w, k, idx, g, products, n, gq, gw, gk);
}
void scores_row_any(const float* q, const float* w, const float* k, const int64_t* idx, const Dims& n,
                    float* out) {
  scores_row_f32(q, w, k, idx, n, out);
}
void scores_row_any(const double* q, const double* w, const double* k, const int64_t* idx, const Dims& n,
                    double* out) {
  scores_row<double>(q, w, k, idx, n, out);
}
void scores_row_backward_any(const float* q, const float* w, const float* k, const int64_t* idx,
                             const float* g, const float* products, const Dims& n, float* gq, float* gw,
                             float* gk) {
  scores_row_backward_f32(q, w, k, idx, g, products, n, gq, gw, gk);
}
void scores_row_backward_any(const double* q, const double* w, const double* k, const int64_t* idx,
                             const double* g, const double* products, const Dims& n, double* gq, double* gw,
                             double* gk) {
  scores_row_backward<double>(q, w, k, idx, g, products, n, gq, gw, gk);
}

class SelectedScores : public torch::autograd::Function<SelectedScores> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& w, const torch::Tensor& idx, const torch::Tensor& known,
                               const torch::Tensor& products) {
    ctx->save_for_backward({q, k, w, idx, products});
    if (known.numel() > 0) return known.clone();
    const Dims n = dims_of(q, k, idx);
    auto out = torch::zeros({n.batch, n.t, n.k}, q.options());
    AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "dsa_selected_scores", [&] {
      const auto* qp = q.data_ptr<scalar_t>();
      const auto* kp = k.data_ptr<scalar_t>();
      const auto* wp = w.data_ptr<scalar_t>();
      const auto* ip = idx.data_ptr<int64_t>();
      auto* op = out.data_ptr<scalar_t>();
      at::parallel_for(0, n.batch * n.t, 16, [&](int64_t begin, int64_t end) {
        for (int64_t bt = begin; bt < end; ++bt)
          scores_row_any(qp + bt * n.heads * n.dim, wp + bt * n.heads, kp + (bt / n.t) * n.s * n.dim,
                         ip + bt * n.k, n, op + bt * n.k);
      });
    });
    return out;
  }

  // ∂w = Σ_s g·ReLU(r), ∂q = w·Σ_s g·1(r>0)·k_s, ∂k_s = Σ_t g·w·1(r>0)·q_t; keys are shared across
  // queries, so each thread accumulates its own key gradient and the copies are summed.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &q = saved[0], &k = saved[1], &w = saved[2], &idx = saved[3], &products = saved[4];
    auto g = grads[0].contiguous();
    const Dims n = dims_of(q, k, idx);
    auto gq = torch::zeros_like(q), gw = torch::zeros_like(w);
    const int64_t threads = at::get_num_threads();
    auto gk_parts = torch::zeros({threads, n.batch, n.s, n.dim}, k.options());
    AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "dsa_selected_scores_backward", [&] {
      const auto* qp = q.data_ptr<scalar_t>();
      const auto* kp = k.data_ptr<scalar_t>();
      const auto* wp = w.data_ptr<scalar_t>();
      const auto* ip = idx.data_ptr<int64_t>();
      const auto* gp = g.data_ptr<scalar_t>();
      auto* gqp = gq.data_ptr<scalar_t>();
      auto* gwp = gw.data_ptr<scalar_t>();
      auto* gkp = gk_parts.data_ptr<scalar_t>();
      const scalar_t* pp = products.numel() > 0 ? products.data_ptr<scalar_t>() : nullptr;
      at::parallel_for(0, n.batch * n.t, 16, [&](int64_t begin, int64_t end) {
        scalar_t* gk = gkp + at::get_thread_num() * n.batch * n.s * n.dim;
        for (int64_t bt = begin; bt < end; ++bt) {
          const int64_t b = bt / n.t;
          scores_row_backward_any(qp + bt * n.heads * n.dim, wp + bt * n.heads, kp + b * n.s * n.dim,
                                  ip + bt * n.k, gp + bt * n.k, pp ? pp + bt * n.k * n.heads : nullptr, n,
                                  gqp + bt * n.heads * n.dim, gwp + bt * n.heads, gk + b * n.s * n.dim);
        }
      });
    });
    return {gq, gk_parts.sum(0), gw, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor selected_scores(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& w,
                              const torch::Tensor& idx, const PickedScores& known) {
  if (q.device().is_cpu()) {
    const auto acc = torch::promote_types(q.scalar_type(), torch::kFloat32);
    const bool reuse = known.scores.defined() && known.scores.scalar_type() == acc;
    // Autograd functions take defined tensors only: "nothing known" is an empty one.
    const auto none = torch::empty({0}, q.options().dtype(acc));
    return SelectedScores::apply(q.to(acc).contiguous(), k.to(acc).contiguous(), w.to(acc).contiguous(),
                                 idx.to(torch::kInt64).contiguous(), reuse ? known.scores : none,
                                 reuse ? known.products : none);
  }
  // Other devices: gather the selected keys (memory B·T·K·dI).
  const int64_t b = idx.size(0), t = idx.size(1), n = idx.size(2);
  auto keys = k.gather(1, idx.clamp_min(0).reshape({b, t * n, 1}).expand({b, t * n, k.size(2)}))
                  .view({b, t, n, k.size(2)});
  auto r = torch::relu(torch::matmul(q, keys.transpose(-2, -1)));  // [B, T, HI, K]
  return (w.unsqueeze(-1) * r).sum(2).masked_fill(idx.lt(0), 0.0);
}

}  // namespace dsa
