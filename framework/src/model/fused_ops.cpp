#include "model/fused_ops.hpp"

#include <lab/simd_exp.hpp>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace lab {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

bool cpu_kernel(const torch::Tensor& t) {
  return t.device().is_cpu() && (t.scalar_type() == torch::kFloat32 || t.scalar_type() == torch::kFloat64);
}

constexpr int64_t kRowGrain = 32;           // rows per parallel task
constexpr int64_t kElementGrain = 1 << 14;  // elements per parallel task

// ---- RMSNorm -------------------------------------------------------------------------------------

torch::Tensor composite_rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  const auto acc = torch::promote_types(x.scalar_type(), torch::kFloat32);
  auto xa = x.to(acc);
  auto normed = xa * torch::rsqrt(xa.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return (normed * weight.to(acc)).to(x.scalar_type());
}

class RmsNormFunction : public torch::autograd::Function<RmsNormFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x_in, const torch::Tensor& w_in,
                               double eps) {
    auto x = x_in.contiguous();
    auto w = w_in.contiguous();
    const int64_t width = x.size(-1), rows = x.numel() / width;
    auto y = torch::empty_like(x);
    auto rstd = torch::empty({rows}, x.options());
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lab_rms_norm", [&] {
      const scalar_t* xp = x.data_ptr<scalar_t>();
      const scalar_t* wp = w.data_ptr<scalar_t>();
      scalar_t* yp = y.data_ptr<scalar_t>();
      scalar_t* rp = rstd.data_ptr<scalar_t>();
      at::parallel_for(0, rows, kRowGrain, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const scalar_t* xr = xp + r * width;
          scalar_t* yr = yp + r * width;
          scalar_t sq = 0;
          for (int64_t i = 0; i < width; ++i) sq += xr[i] * xr[i];
          const scalar_t inv =
              scalar_t(1) / std::sqrt(sq / static_cast<scalar_t>(width) + static_cast<scalar_t>(eps));
          rp[r] = inv;
          for (int64_t i = 0; i < width; ++i) yr[i] = xr[i] * inv * wp[i];
        }
      });
    });
    ctx->save_for_backward({x, w, rstd});
    return y;
  }

  // y = x·r·w with r = (mean(x²) + eps)^-1/2: dx = r·(g − x·r²·mean(g·x)) for g = dy·w; dw = Σ dy·x·r.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& w = saved[1];
    const auto& rstd = saved[2];
    auto dy = grads[0].contiguous();
    const int64_t width = x.size(-1), rows = x.numel() / width;
    auto dx = torch::empty_like(x);
    auto dw = torch::zeros_like(w);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lab_rms_norm_backward", [&] {
      const scalar_t* xp = x.data_ptr<scalar_t>();
      const scalar_t* wp = w.data_ptr<scalar_t>();
      const scalar_t* rp = rstd.data_ptr<scalar_t>();
      const scalar_t* gp = dy.data_ptr<scalar_t>();
      scalar_t* dxp = dx.data_ptr<scalar_t>();
      // dw: one partial sum per task, added up in task order so the result does not depend on timing.
      const int64_t tasks = (rows + kRowGrain - 1) / kRowGrain;
      std::vector<scalar_t> partial(static_cast<size_t>(tasks * width), scalar_t(0));
      at::parallel_for(0, tasks, 1, [&](int64_t t_begin, int64_t t_end) {
        for (int64_t t = t_begin; t < t_end; ++t) {
          scalar_t* pw = partial.data() + t * width;
          for (int64_t r = t * kRowGrain; r < std::min(rows, (t + 1) * kRowGrain); ++r) {
            const scalar_t* xr = xp + r * width;
            const scalar_t* gr = gp + r * width;
            scalar_t* dxr = dxp + r * width;
            const scalar_t inv = rp[r];
            scalar_t dot = 0;
            for (int64_t i = 0; i < width; ++i) {
              dot += gr[i] * wp[i] * xr[i];
              pw[i] += gr[i] * xr[i] * inv;
            }
            const scalar_t c = dot * inv * inv / static_cast<scalar_t>(width);
            for (int64_t i = 0; i < width; ++i) dxr[i] = inv * (gr[i] * wp[i] - xr[i] * c);
          }
        }
      });
      scalar_t* dwp = dw.data_ptr<scalar_t>();
      for (int64_t t = 0; t < tasks; ++t)
        for (int64_t i = 0; i < width; ++i) dwp[i] += partial[t * width + i];
    });
    return {dx, dw, torch::Tensor()};
  }
};

// ---- SwiGLU product ------------------------------------------------------------------------------

template <typename T>
T sigmoid(T v) {
  return T(1) / (T(1) + std::exp(-v));
}

// out = silu(g)·u.
template <typename T>
void swiglu_forward_scalar(const T* g, const T* u, T* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = g[i] * sigmoid(g[i]) * u[i];
}

// dg = dh·u·σ(g)·(1 + g·(1 − σ(g))), du = dh·silu(g).
template <typename T>
void swiglu_backward_scalar(const T* g, const T* u, const T* dh, T* dg, T* du, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const T s = sigmoid(g[i]);
    dg[i] = dh[i] * u[i] * s * (T(1) + g[i] * (T(1) - s));
    du[i] = dh[i] * g[i] * s;
  }
}

#ifdef LAB_HAVE_SIMD_EXP
LAB_TARGET_AVX2 inline __m256 sigmoid8(__m256 g) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one, _mm256_add_ps(one, simd::exp8(_mm256_sub_ps(_mm256_setzero_ps(), g))));
}

LAB_TARGET_AVX2 void swiglu_forward_avx2(const float* g, const float* u, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 gv = _mm256_loadu_ps(g + i);
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(gv, sigmoid8(gv)), _mm256_loadu_ps(u + i)));
  }
  swiglu_forward_scalar(g + i, u + i, out + i, n - i);
}

LAB_TARGET_AVX2 void swiglu_backward_avx2(const float* g, const float* u, const float* dh, float* dg,
                                          float* du, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 gv = _mm256_loadu_ps(g + i), uv = _mm256_loadu_ps(u + i), dv = _mm256_loadu_ps(dh + i);
    const __m256 s = sigmoid8(gv);
    const __m256 slope = _mm256_mul_ps(s, _mm256_fmadd_ps(gv, _mm256_sub_ps(one, s), one));
    _mm256_storeu_ps(dg + i, _mm256_mul_ps(_mm256_mul_ps(dv, uv), slope));
    _mm256_storeu_ps(du + i, _mm256_mul_ps(dv, _mm256_mul_ps(gv, s)));
  }
  swiglu_backward_scalar(g + i, u + i, dh + i, dg + i, du + i, n - i);
}
#endif

void swiglu_forward_any(const float* g, const float* u, float* out, int64_t n) {
#ifdef LAB_HAVE_SIMD_EXP
  if (simd::has_avx2()) return swiglu_forward_avx2(g, u, out, n);
#endif
  swiglu_forward_scalar(g, u, out, n);
}
void swiglu_forward_any(const double* g, const double* u, double* out, int64_t n) {
  swiglu_forward_scalar(g, u, out, n);
}
void swiglu_backward_any(const float* g, const float* u, const float* dh, float* dg, float* du, int64_t n) {
#ifdef LAB_HAVE_SIMD_EXP
  if (simd::has_avx2()) return swiglu_backward_avx2(g, u, dh, dg, du, n);
#endif
  swiglu_backward_scalar(g, u, dh, dg, du, n);
}
void swiglu_backward_any(const double* g, const double* u, const double* dh, double* dg, double* du,
                         int64_t n) {
  swiglu_backward_scalar(g, u, dh, dg, du, n);
}

// Rows of [gate | up] (each half `width` wide) in, rows of silu(gate)·up out.
class SwigluFunction : public torch::autograd::Function<SwigluFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& packed_in) {
    auto packed = packed_in.contiguous();
    const int64_t width = packed.size(-1) / 2, rows = packed.numel() / (2 * width);
    auto shape = packed.sizes().vec();
    shape.back() = width;
    auto out = torch::empty(shape, packed.options());
    AT_DISPATCH_FLOATING_TYPES(packed.scalar_type(), "lab_swiglu", [&] {
      const scalar_t* in = packed.data_ptr<scalar_t>();
      scalar_t* o = out.data_ptr<scalar_t>();
      at::parallel_for(0, rows, grain_rows(width), [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const scalar_t* g = in + r * 2 * width;
          swiglu_forward_any(g, g + width, o + r * width, width);
        }
      });
    });
    ctx->save_for_backward({packed});
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto packed = ctx->get_saved_variables()[0];
    auto dh = grads[0].contiguous();
    const int64_t width = packed.size(-1) / 2, rows = packed.numel() / (2 * width);
    auto dpacked = torch::empty_like(packed);
    AT_DISPATCH_FLOATING_TYPES(packed.scalar_type(), "lab_swiglu_backward", [&] {
      const scalar_t* in = packed.data_ptr<scalar_t>();
      const scalar_t* d = dh.data_ptr<scalar_t>();
      scalar_t* dp = dpacked.data_ptr<scalar_t>();
      at::parallel_for(0, rows, grain_rows(width), [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const scalar_t* g = in + r * 2 * width;
          scalar_t* dg = dp + r * 2 * width;
          swiglu_backward_any(g, g + width, d + r * width, dg, dg + width, width);
        }
      });
    });
    return {dpacked};
  }

 private:
  static int64_t grain_rows(int64_t width) {
    return std::max<int64_t>(1, kElementGrain / std::max<int64_t>(1, width));
  }
};

// ---- Rotary embedding ----------------------------------------------------------------------------

// Rotates every (a, b) pair of each row by the row's angles: sign +1 forward, -1 for the transpose
// (the backward of a rotation is the rotation by the opposite angle).
template <typename T>
void rotate_rows(const T* x, const T* cos, const T* sin, T* out, int64_t rows, int64_t t_len, int64_t dim,
                 bool interleaved, T sign) {
  const int64_t half = dim / 2;
  at::parallel_for(0, rows, kRowGrain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* c = cos + (r % t_len) * half;
      const T* s = sin + (r % t_len) * half;
      const T* xr = x + r * dim;
      T* o = out + r * dim;
      const int64_t step = interleaved ? 2 : 1, second = interleaved ? 1 : half;
      for (int64_t i = 0; i < half; ++i) {
        const T a = xr[i * step], b = xr[i * step + second], si = sign * s[i];
        o[i * step] = a * c[i] - b * si;
        o[i * step + second] = a * si + b * c[i];
      }
    }
  });
}

torch::Tensor rotate(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                     bool interleaved, double sign) {
  auto xc = x.contiguous();
  auto out = torch::empty_like(xc);
  const int64_t dim = xc.size(-1), t_len = xc.size(-2), rows = xc.numel() / dim;
  AT_DISPATCH_FLOATING_TYPES(xc.scalar_type(), "lab_rotary", [&] {
    rotate_rows(xc.data_ptr<scalar_t>(), cos.data_ptr<scalar_t>(), sin.data_ptr<scalar_t>(),
                out.data_ptr<scalar_t>(), rows, t_len, dim, interleaved, static_cast<scalar_t>(sign));
  });
  return out;
}

class RotaryFunction : public torch::autograd::Function<RotaryFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& cos,
                               const torch::Tensor& sin, bool interleaved) {
    auto c = cos.contiguous(), s = sin.contiguous();
    ctx->save_for_backward({c, s});
    ctx->saved_data["interleaved"] = interleaved;
    return rotate(x, c, s, interleaved, 1.0);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const bool interleaved = ctx->saved_data["interleaved"].toBool();
    return {rotate(grads[0], saved[0], saved[1], interleaved, -1.0), torch::Tensor(), torch::Tensor(),
            torch::Tensor()};
  }
};

torch::Tensor composite_rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                               bool interleaved) {
  const int64_t dim = x.size(-1);
  if (interleaved) {
    auto shape = x.sizes().vec();
    shape.back() = dim / 2;
    shape.push_back(2);
    auto pairs = x.reshape(shape);
    auto a = pairs.select(-1, 0), b = pairs.select(-1, 1);
    return torch::stack({a * cos - b * sin, a * sin + b * cos}, -1).flatten(-2);
  }
  auto a = x.narrow(-1, 0, dim / 2), b = x.narrow(-1, dim / 2, dim / 2);
  return torch::cat({a * cos - b * sin, b * cos + a * sin}, -1);
}

}  // namespace

torch::Tensor fused_rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                           bool interleaved) {
  const bool constant_tables = !cos.requires_grad() && !sin.requires_grad();
  if (cpu_kernel(x) && constant_tables && cos.scalar_type() == x.scalar_type() &&
      sin.scalar_type() == x.scalar_type() && x.numel() > 0 && cos.dim() == 2 && cos.size(0) == x.size(-2))
    return RotaryFunction::apply(x, cos, sin, interleaved);
  return composite_rotary(x, cos, sin, interleaved);
}

torch::Tensor fused_rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  if (cpu_kernel(x) && weight.scalar_type() == x.scalar_type() && weight.device().is_cpu() && x.numel() > 0)
    return RmsNormFunction::apply(x, weight, eps);
  return composite_rms_norm(x, weight, eps);
}

torch::Tensor fused_swiglu(const torch::Tensor& packed) {
  TORCH_CHECK(packed.dim() >= 1 && packed.size(-1) % 2 == 0,
              "fused_swiglu: the last dim must hold gate and up");
  if (cpu_kernel(packed) && packed.numel() > 0) return SwigluFunction::apply(packed);
  auto halves = packed.chunk(2, -1);
  return torch::silu(halves[0]) * halves[1];
}

}  // namespace lab
