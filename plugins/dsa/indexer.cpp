#include "indexer.hpp"

#include <lab/reference_attention.hpp>

#include <ATen/Parallel.h>
#include <c10/core/impl/LocalDispatchKeySet.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <type_traits>
#include <vector>

namespace dsa {

namespace {

// Rotates the leading dims of x [B, T, ..., D] (D even) by the half-split pairs (x_i, x_{i+D/2}):
// cos and sin are [T, D/2] from the RoPE slot's table.
torch::Tensor rotate_half_split(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[1] = cos.size(0);
  shape.back() = cos.size(1);
  auto c = cos.to(x.scalar_type()).view(shape), s = sin.to(x.scalar_type()).view(shape);
  auto halves = x.chunk(2, -1);
  return torch::cat({halves[0] * c - halves[1] * s, halves[1] * c + halves[0] * s}, -1);
}

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// Scores of queries [t0, t0 + rows) against keys [0, keys), summed over indexer heads.
torch::Tensor score_block(const IndexerHeads& h, int64_t t0, int64_t rows, int64_t keys) {
  auto q = h.q.narrow(1, t0, rows);  // [B, rows, HI, dI]
  auto k = h.k.narrow(1, 0, keys);   // [B, keys, dI]
  auto w = h.w.narrow(1, t0, rows);  // [B, rows, HI]
  // One head at a time, so [B, rows, HI, keys] is never held.
  torch::Tensor total;
  for (int64_t j = 0; j < q.size(2); ++j) {
    auto part = w.select(2, j).unsqueeze(-1) * torch::relu(torch::matmul(q.select(2, j), k.transpose(1, 2)));
    total = total.defined() ? total + part : part;
  }
  if (h.k_scale.defined()) total = total * h.k_scale.narrow(1, 0, keys).unsqueeze(1);
  return total;
}

// [rows, keys] true where key s is later than query t0 + i (queries are the last T of S positions).
torch::Tensor future(int64_t t0, int64_t rows, int64_t keys, int64_t offset, torch::Device device) {
  auto t = torch::arange(t0, t0 + rows, torch::TensorOptions().dtype(torch::kLong).device(device)) + offset;
  auto s = torch::arange(keys, torch::TensorOptions().dtype(torch::kLong).device(device));
  return s.unsqueeze(0) > t.unsqueeze(1);
}

}  // namespace

IndexerImpl::IndexerImpl(int64_t d_model, int64_t heads, int64_t dim, int64_t rope_dim)
    : heads_(heads), dim_(dim), rope_dim_(rope_dim) {
  auto linear = [](int64_t in, int64_t out) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false));
  };
  wq_ = register_module("wq", linear(d_model, heads * dim));
  wk_ = register_module("wk", linear(d_model, dim));
  weights_ = register_module("weights_proj", linear(d_model, heads));
  k_norm_ = register_module("k_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6)));
}

IndexerHeads IndexerImpl::project(const torch::Tensor& x) {
  const int64_t b = x.size(0), t = x.size(1);
  auto q = wq_->forward(x).view({b, t, heads_, dim_});
  // The norm runs in its parameters' type: under CPU autocast the projection comes out in bf16 while
  // they stay fp32, which LibTorch's CPU layer_norm refuses to mix.
  const auto k_projected = wk_->forward(x);
  const auto norm_type =
      k_norm_->weight.defined() ? k_norm_->weight.scalar_type() : k_projected.scalar_type();
  auto k = k_norm_->forward(k_projected.to(norm_type)).to(k_projected.scalar_type());
  if (rope_dim_ > 0) {
    TORCH_CHECK(rope_, "dsa: the indexer has no RoPE; the model hands it the RoPE slot's (use_rope)");
    // Rotary part first (DeepSeek-V3.2 indexer), positions 0..T-1, the attention's frequency table.
    auto [cos, sin] = rope_->tables(t, x.device());
    q = torch::cat(
        {rotate_half_split(q.narrow(-1, 0, rope_dim_), cos, sin), q.narrow(-1, rope_dim_, dim_ - rope_dim_)},
        -1);
    k = torch::cat(
        {rotate_half_split(k.narrow(-1, 0, rope_dim_), cos, sin), k.narrow(-1, rope_dim_, dim_ - rope_dim_)},
        -1);
  }
  auto w = weights_->forward(x) / std::sqrt(static_cast<double>(heads_ * dim_));
  return IndexerHeads{q, k, w};
}

torch::Tensor head_scores(const IndexerHeads& h) {
  const int64_t t = h.q.size(1), s = h.k.size(1);
  auto r = torch::relu(torch::matmul(h.q.transpose(1, 2), h.k.unsqueeze(1).transpose(-2, -1)));
  auto scores = h.w.transpose(1, 2).unsqueeze(-1) * r;
  return scores.masked_fill(future(0, t, s, s - t, h.q.device()), kNegInf);
}

torch::Tensor index_scores(const IndexerHeads& h) {
  const int64_t t = h.q.size(1), s = h.k.size(1);
  return score_block(h, 0, t, s).masked_fill(future(0, t, s, s - t, h.q.device()), kNegInf);
}

namespace {

// Queries per parallel task of the CPU selection: their per-head products ([rows·HI, S]) stay in cache.
constexpr int64_t kSelectRows = 8;

// The width-th largest of score[0, visible). Floats: a histogram of the top 11 bits of an
// order-preserving integer image finds the bucket that holds it, then nth_element runs on that
// bucket's members only (branch-free passes instead of a full selection with unpredictable branches).
template <typename T>
T kth_largest(const T* score, int64_t visible, int64_t width, std::vector<T>& scratch) {
  if constexpr (std::is_same_v<T, float>) {
    constexpr int kBits = 11, kShift = 32 - kBits;
    auto ordered = [](float v) {
      uint32_t u;
      std::memcpy(&u, &v, sizeof u);
      return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    };
    std::array<int64_t, size_t{1} << kBits> count{};
    for (int64_t s = 0; s < visible; ++s) ++count[ordered(score[s]) >> kShift];
    int64_t bucket = static_cast<int64_t>(count.size()) - 1, above = 0;
    while (above + count[bucket] < width) above += count[bucket--];
    scratch.resize(static_cast<size_t>(count[bucket]) + 1);  // +1: the last unconditional write
    int64_t n = 0;
    for (int64_t s = 0; s < visible; ++s) {
      scratch[n] = score[s];  // written always, kept when in the bucket: no branch to mispredict
      n += static_cast<int64_t>(ordered(score[s]) >> kShift) == bucket;
    }
    const int64_t need = width - above;  // 1 <= need <= bucket size
    std::nth_element(scratch.begin(), scratch.begin() + (need - 1), scratch.begin() + n, std::greater<T>());
    return scratch[need - 1];
  } else {
    scratch.assign(score, score + visible);
    std::nth_element(scratch.begin(), scratch.begin() + (width - 1), scratch.end(), std::greater<T>());
    return scratch[width - 1];
  }
}

// The top `width` of score[0, visible), ties to the earlier key, written ascending: one scan keeps what
// beats the width-th largest value, and as many of its ties as fit.
template <typename T>
void top_keys(const T* score, int64_t visible, int64_t width, std::vector<T>& scratch, int64_t* out) {
  const T threshold = kth_largest(score, visible, width, scratch);
  int64_t above = 0;
  for (int64_t s = 0; s < visible; ++s) above += score[s] > threshold;
  int64_t ties = width - above, n = 0;
  for (int64_t s = 0; s < visible && n < width; ++s) {
    if (score[s] > threshold || (score[s] == threshold && ties-- > 0)) out[n++] = s;
  }
  // NaN scores compare false: keep the row well-formed (padding first) rather than leave slots unset.
  if (n < width) {
    std::copy_backward(out, out + n, out + width);
    std::fill(out, out + (width - n), int64_t{-1});
  }
}

// Rows [t0, t1) of one batch element: every head's q·k from one matrix product, heads combined per
// row as Σ_j w_j·ReLU(q_j·k), causal keys only, then the row's top keys after the -1 padding; with
// `picked`, also the selected keys' scores and, with `products`, their per-head q·k (0 for padding).
template <typename T>
void select_rows(const torch::Tensor& q, const torch::Tensor& k, const T* w, const T* key_scale, int64_t t0,
                 int64_t t1, int64_t offset, int64_t width, int64_t* out, T* picked, T* products) {
  const int64_t heads = q.size(1), s_len = k.size(0), rows = t1 - t0;
  const int64_t keys = std::clamp<int64_t>(t1 + offset, 0, s_len);  // the last row's horizon
  torch::Tensor r;
  if (keys > 0)
    r = torch::mm(q.narrow(0, t0, rows).reshape({rows * heads, q.size(2)}), k.narrow(0, 0, keys).t());
  const T* rp = keys > 0 ? r.data_ptr<T>() : nullptr;
  std::vector<T> score(static_cast<size_t>(keys)), scratch;
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t t = t0 + i, visible = std::clamp<int64_t>(t + offset + 1, 0, keys);
    int64_t* row_out = out + t * width;
    const int64_t pad = std::max<int64_t>(0, width - visible);
    std::fill(row_out, row_out + pad, int64_t{-1});
    if (visible <= width) std::iota(row_out + pad, row_out + width, int64_t{0});
    if (visible <= width && !picked) continue;
    std::fill(score.begin(), score.begin() + visible, T(0));
    for (int64_t j = 0; j < heads; ++j) {
      const T wj = w[t * heads + j];
      const T* rj = rp + (i * heads + j) * keys;
      for (int64_t s = 0; s < visible; ++s) score[s] += wj * std::max(rj[s], T(0));
    }
    if (key_scale)
      for (int64_t s = 0; s < visible; ++s) score[s] *= key_scale[s];
    // A diverged indexer (NaN) must still give a well-formed selection: NaN ranks lowest.
    for (int64_t s = 0; s < visible; ++s)
      if (std::isnan(score[s])) score[s] = -std::numeric_limits<T>::infinity();
    if (visible > width) top_keys(score.data(), visible, width, scratch, row_out);
    if (!picked) continue;
    for (int64_t n = 0; n < width; ++n) {
      const int64_t key = row_out[n];
      picked[t * width + n] = key < 0 ? T(0) : score[key];
      T* prod = products + (t * width + n) * heads;
      for (int64_t j = 0; j < heads; ++j) prod[j] = key < 0 ? T(0) : rp[(i * heads + j) * keys + key];
    }
  }
}

torch::Tensor select_keys_cpu(const IndexerHeads& h, int64_t width, PickedScores* picked) {
  const int64_t batch = h.q.size(0), t = h.q.size(1), s = h.k.size(1), offset = s - t, heads = h.q.size(2);
  auto out = torch::empty({batch, t, width}, torch::TensorOptions().dtype(torch::kLong));
  if (picked) {
    const auto options = h.q.options().requires_grad(false);
    picked->scores = torch::empty({batch, t, width}, options);
    picked->products = torch::empty({batch, t, width, heads}, options);
  }
  // Detached: the products below run on worker threads, where the caller's no-grad guard does not reach.
  // Under autocast the parts can differ (bf16 projections, fp32 after the RoPE tables): q's type for all.
  auto q = h.q.detach().contiguous(), k = h.k.detach().to(q.scalar_type()).contiguous(),
       w = h.w.detach().to(q.scalar_type()).contiguous();
  auto key_scale =
      h.k_scale.defined() ? h.k_scale.detach().to(q.scalar_type()).contiguous() : torch::Tensor();
  const int64_t runs = (t + kSelectRows - 1) / kSelectRows;
  AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "dsa_select_keys", [&] {
    at::parallel_for(0, batch * runs, 1, [&](int64_t begin, int64_t end) {
      torch::NoGradGuard no_grad;
      // The workers inherit the caller's autocast, which would turn the scores' product into bf16.
      c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
      for (int64_t task = begin; task < end; ++task) {
        const int64_t b = task / runs, t0 = (task % runs) * kSelectRows, t1 = std::min(t, t0 + kSelectRows);
        select_rows(q[b], k[b], w[b].data_ptr<scalar_t>(),
                    key_scale.defined() ? key_scale[b].data_ptr<scalar_t>() : nullptr, t0, t1, offset, width,
                    out.data_ptr<int64_t>() + b * t * width,
                    picked ? picked->scores.data_ptr<scalar_t>() + b * t * width : nullptr,
                    picked ? picked->products.data_ptr<scalar_t>() + b * t * width * heads : nullptr);
      }
    });
  });
  return out;
}

// Reduced precision (bf16, fp16 under autocast) on CPU: the selection runs on fp32 copies; what it
// picked stays fp32, the type selected_scores computes in.
torch::Tensor select_keys_cpu_fp32(const IndexerHeads& h, int64_t width, PickedScores* picked) {
  const IndexerHeads wide{h.q.to(torch::kFloat32), h.k.to(torch::kFloat32), h.w.to(torch::kFloat32),
                          h.k_scale.defined() ? h.k_scale.to(torch::kFloat32) : torch::Tensor()};
  return select_keys_cpu(wide, width, picked);
}

}  // namespace

torch::Tensor select_keys(const IndexerHeads& h, int64_t top_k, int64_t block, PickedScores* picked) {
  torch::NoGradGuard no_grad;
  if (h.q.device().is_cpu()) {
    const int64_t width = std::min(top_k, h.k.size(1));
    const auto type = h.q.scalar_type();
    if (type != torch::kFloat32 && type != torch::kFloat64) return select_keys_cpu_fp32(h, width, picked);
    return select_keys_cpu(h, width, picked);
  }
  if (picked) *picked = PickedScores{};
  const int64_t t = h.q.size(1), s = h.k.size(1), offset = s - t;
  const int64_t width = std::min(top_k, s);
  std::vector<torch::Tensor> parts;
  for (int64_t t0 = 0; t0 < t; t0 += block) {
    const int64_t rows = std::min(block, t - t0);
    const int64_t keys = std::min(s, t0 + rows + offset);  // later keys are invisible to the whole block
    auto scores =
        score_block(h, t0, rows, keys).masked_fill(future(t0, rows, keys, offset, h.q.device()), kNegInf);
    const int64_t take = std::min(width, keys);
    auto [values, index] = scores.topk(take, -1);
    index = index.masked_fill(values.isneginf(), -1);  // fewer causal keys than top_k
    if (take < width)
      index = torch::cat({index, torch::full({index.size(0), rows, width - take}, -1, index.options())}, -1);
    parts.push_back(std::get<0>(index.sort(-1)));  // ascending: -1 first, then keys in memory order
  }
  return torch::cat(parts, 1);
}

}  // namespace dsa
