#include "train/fused_adamw.hpp"

#include <lab/simd_exp.hpp>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>
#include <sstream>
#include <string>
#include <type_traits>

namespace lab {

namespace {

// The key torch files a parameter's state under: the TensorImpl address, as a pointer (LibTorch 2.x)
// or as its printed form (1.13).
template <typename Key>
Key state_key(const torch::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream text;
    text << static_cast<const void*>(p.unsafeGetTensorImpl());
    return text.str();
  } else {
    return p.unsafeGetTensorImpl();
  }
}

bool eligible(const torch::Tensor& p) {
  const auto& g = p.grad();
  if (!g.defined()) return true;  // skipped, as torch does
  return p.device().is_cpu() && p.scalar_type() == torch::kFloat32 && p.is_contiguous() && !g.is_sparse() &&
         g.scalar_type() == torch::kFloat32 && g.is_contiguous() && g.sizes() == p.sizes();
}

constexpr int64_t kGrain = 1 << 15;

// The same arithmetic as torch's AdamW step, in one pass over [begin, end).
void update_scalar(float* p, const float* g, float* m, float* v, int64_t begin, int64_t end, float decay,
                   float beta1, float beta2, float step_size, float bias2_sqrt, float eps) {
  for (int64_t i = begin; i < end; ++i) {
    const float gi = g[i];
    const float pi = p[i] * decay;
    const float mi = m[i] * beta1 + (1.0f - beta1) * gi;
    const float vi = v[i] * beta2 + (1.0f - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - step_size * (mi / (std::sqrt(vi) / bias2_sqrt + eps));
  }
}

#ifdef LAB_HAVE_SIMD_EXP
// Eight lanes at a time (std::sqrt's errno keeps the compiler from vectorising the scalar loop).
LAB_TARGET_AVX2 void update_avx2(float* p, const float* g, float* m, float* v, int64_t begin, int64_t end,
                                 float decay, float beta1, float beta2, float step_size, float bias2_sqrt,
                                 float eps) {
  const __m256 b1 = _mm256_set1_ps(beta1), c1 = _mm256_set1_ps(1.0f - beta1), b2 = _mm256_set1_ps(beta2),
               c2 = _mm256_set1_ps(1.0f - beta2), dec = _mm256_set1_ps(decay), lr = _mm256_set1_ps(step_size),
               bc = _mm256_set1_ps(bias2_sqrt), ep = _mm256_set1_ps(eps);
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    const __m256 gi = _mm256_loadu_ps(g + i);
    const __m256 mi = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(m + i), b1), _mm256_mul_ps(c1, gi));
    const __m256 vi =
        _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v + i), b2), _mm256_mul_ps(_mm256_mul_ps(c2, gi), gi));
    const __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), bc), ep);
    const __m256 pi = _mm256_mul_ps(_mm256_loadu_ps(p + i), dec);
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    _mm256_storeu_ps(p + i, _mm256_sub_ps(pi, _mm256_mul_ps(lr, _mm256_div_ps(mi, denom))));
  }
  update_scalar(p, g, m, v, i, end, decay, beta1, beta2, step_size, bias2_sqrt, eps);
}
#endif

void update(float* p, const float* g, float* m, float* v, int64_t n, float decay, float beta1, float beta2,
            float step_size, float bias2_sqrt, float eps) {
  at::parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
#ifdef LAB_HAVE_SIMD_EXP
    if (lab::simd::has_avx2())
      return update_avx2(p, g, m, v, begin, end, decay, beta1, beta2, step_size, bias2_sqrt, eps);
#endif
    update_scalar(p, g, m, v, begin, end, decay, beta1, beta2, step_size, bias2_sqrt, eps);
  });
}

}  // namespace

bool fused_adamw_step(torch::optim::AdamW& adamw) {
  for (const auto& group : adamw.param_groups()) {
    const auto& options = static_cast<const torch::optim::AdamWOptions&>(group.options());
    if (options.amsgrad()) return false;
    for (const auto& p : group.params())
      if (!eligible(p)) return false;
  }
  torch::NoGradGuard no_grad;
  auto& state = adamw.state();
  using Key = typename std::decay_t<decltype(state)>::key_type;
  for (auto& group : adamw.param_groups()) {
    const auto& options = static_cast<const torch::optim::AdamWOptions&>(group.options());
    const double lr = options.lr(), beta1 = std::get<0>(options.betas()),
                 beta2 = std::get<1>(options.betas());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      const Key key = state_key<Key>(p);
      auto found = state.find(key);
      if (found == state.end()) {
        auto fresh = std::make_unique<torch::optim::AdamWParamState>();
        fresh->step(0);
        fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        found = state.emplace(key, std::move(fresh)).first;
      }
      auto& s = static_cast<torch::optim::AdamWParamState&>(*found->second);
      s.step(s.step() + 1);
      const double bias1 = 1 - std::pow(beta1, static_cast<double>(s.step()));
      const double bias2 = 1 - std::pow(beta2, static_cast<double>(s.step()));
      update(p.data_ptr<float>(), p.grad().data_ptr<float>(), s.exp_avg().data_ptr<float>(),
             s.exp_avg_sq().data_ptr<float>(), p.numel(), static_cast<float>(1 - lr * options.weight_decay()),
             static_cast<float>(beta1), static_cast<float>(beta2), static_cast<float>(lr / bias1),
             static_cast<float>(std::sqrt(bias2)), static_cast<float>(options.eps()));
    }
  }
  return true;
}

}  // namespace lab
