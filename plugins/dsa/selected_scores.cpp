#include "selected_scores.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <vector>

namespace dsa {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

template <typename T>
inline T dot(const T* a, const T* b, int64_t n) {
  T acc[8] = {};
  int64_t d = 0;
  for (; d + 8 <= n; d += 8)
    for (int i = 0; i < 8; ++i) acc[i] += a[d + i] * b[d + i];
  T sum = 0;
  for (int i = 0; i < 8; ++i) sum += acc[i];
  for (; d < n; ++d) sum += a[d] * b[d];
  return sum;
}

struct Dims {
  int64_t batch, t, s, heads, dim, k;
};

Dims dims_of(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& idx) {
  return Dims{q.size(0), q.size(1), k.size(1), q.size(2), q.size(3), idx.size(2)};
}

class SelectedScores : public torch::autograd::Function<SelectedScores> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& w, const torch::Tensor& idx, const torch::Tensor& known) {
    ctx->save_for_backward({q, k, w, idx});
    if (known.defined()) return known.clone();
    const Dims n = dims_of(q, k, idx);
    auto out = torch::zeros({n.batch, n.t, n.k}, q.options());
    AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "dsa_selected_scores", [&] {
      const auto* qp = q.data_ptr<scalar_t>();
      const auto* kp = k.data_ptr<scalar_t>();
      const auto* wp = w.data_ptr<scalar_t>();
      const auto* ip = idx.data_ptr<int64_t>();
      auto* op = out.data_ptr<scalar_t>();
      at::parallel_for(0, n.batch * n.t, 16, [&](int64_t begin, int64_t end) {
        for (int64_t bt = begin; bt < end; ++bt) {
          const int64_t b = bt / n.t;
          for (int64_t j = 0; j < n.k; ++j) {
            const int64_t s = ip[bt * n.k + j];
            if (s < 0) continue;
            const scalar_t* kr = kp + (b * n.s + s) * n.dim;
            scalar_t acc = 0;
            for (int64_t h = 0; h < n.heads; ++h)
              acc += wp[bt * n.heads + h] *
                     std::max<scalar_t>(dot(qp + (bt * n.heads + h) * n.dim, kr, n.dim), 0);
            op[bt * n.k + j] = acc;
          }
        }
      });
    });
    return out;
  }

  // ∂w = Σ_s g·ReLU(r), ∂q = w·Σ_s g·1(r>0)·k_s, ∂k_s = Σ_t g·w·1(r>0)·q_t; keys are shared across
  // queries, so each thread accumulates its own key gradient and the copies are summed.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &q = saved[0], &k = saved[1], &w = saved[2], &idx = saved[3];
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
      at::parallel_for(0, n.batch * n.t, 16, [&](int64_t begin, int64_t end) {
        scalar_t* gk = gkp + at::get_thread_num() * n.batch * n.s * n.dim;
        for (int64_t bt = begin; bt < end; ++bt) {
          const int64_t b = bt / n.t;
          for (int64_t j = 0; j < n.k; ++j) {
            const int64_t s = ip[bt * n.k + j];
            const scalar_t gs = gp[bt * n.k + j];
            if (s < 0 || gs == 0) continue;
            const scalar_t* kr = kp + (b * n.s + s) * n.dim;
            scalar_t* gkr = gk + (b * n.s + s) * n.dim;
            for (int64_t h = 0; h < n.heads; ++h) {
              const int64_t qh = (bt * n.heads + h) * n.dim;
              const scalar_t r = dot(qp + qh, kr, n.dim);
              if (r <= 0) continue;
              const scalar_t wh = wp[bt * n.heads + h];
              gwp[bt * n.heads + h] += gs * r;
              for (int64_t d = 0; d < n.dim; ++d) {
                gqp[qh + d] += gs * wh * kr[d];
                gkr[d] += gs * wh * qp[qh + d];
              }
            }
          }
        }
      });
    });
    return {gq, gk_parts.sum(0), gw, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor selected_scores(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& w,
                              const torch::Tensor& idx, const torch::Tensor& known) {
  if (q.device().is_cpu()) {
    const auto acc = torch::promote_types(q.scalar_type(), torch::kFloat32);
    const bool reuse = known.defined() && known.scalar_type() == acc;
    return SelectedScores::apply(q.to(acc).contiguous(), k.to(acc).contiguous(), w.to(acc).contiguous(),
                                 idx.to(torch::kInt64).contiguous(), reuse ? known : torch::Tensor());
  }
  // Other devices: gather the selected keys (memory B·T·K·dI).
  const int64_t b = idx.size(0), t = idx.size(1), n = idx.size(2);
  auto keys = k.gather(1, idx.clamp_min(0).reshape({b, t * n, 1}).expand({b, t * n, k.size(2)}))
                  .view({b, t, n, k.size(2)});
  auto r = torch::relu(torch::matmul(q, keys.transpose(-2, -1)));  // [B, T, HI, K]
  return (w.unsqueeze(-1) * r).sum(2).masked_fill(idx.lt(0), 0.0);
}

}  // namespace dsa
