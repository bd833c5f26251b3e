#include "train/fused_head_loss.hpp"

#include "train/cross_entropy_rows.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <vector>

namespace lab {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Rows of logits made at a time: 256 · 8192 floats = 8 MiB, reused for every chunk.
constexpr int64_t kChunkRows = 256;

class FusedHeadLoss : public torch::autograd::Function<FusedHeadLoss> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& h_in,
                               const torch::Tensor& weight_in, const torch::Tensor& targets_in) {
    auto h = h_in.contiguous();
    auto weight = weight_in.contiguous();
    auto targets = targets_in.to(torch::kInt64).contiguous();
    const int64_t rows = h.size(0), vocab = weight.size(0);
    TORCH_CHECK(targets.numel() == rows, "fused_head_cross_entropy: one target per row");
    auto dh = torch::empty_like(h);
    auto dw = torch::zeros_like(weight);
    auto logits = torch::empty({std::min(rows, kChunkRows), vocab}, h.options());
    std::vector<double> row_loss(static_cast<size_t>(rows));
    const float scale = 1.0f / static_cast<float>(rows);  // d(mean)/d(row loss)
    const int64_t* target = targets.data_ptr<int64_t>();
    for (int64_t c0 = 0; c0 < rows; c0 += kChunkRows) {
      const int64_t n = std::min(kChunkRows, rows - c0);
      auto chunk = logits.narrow(0, 0, n);
      auto hc = h.narrow(0, c0, n);
      at::mm_out(chunk, hc, weight.t());
      float* x = chunk.data_ptr<float>();
      at::parallel_for(0, n, 16, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          float* row = x + r * vocab;
          const int64_t t = target[c0 + r];
          TORCH_CHECK(t >= 0 && t < vocab, "fused_head_cross_entropy: target ", t, " outside the vocabulary");
          const float lse = row_logsumexp(row, vocab);
          row_loss[c0 + r] = static_cast<double>(lse) - row[t];
          row_scaled_softmax(row, vocab, lse, scale);
          row[t] -= scale;
        }
      });
      auto dhc = dh.narrow(0, c0, n);
      at::mm_out(dhc, chunk, weight);
      dw.addmm_(chunk.t(), hc);
    }
    double total = 0;
    for (double v : row_loss) total += v;
    ctx->save_for_backward({dh, dw});
    return torch::tensor(total / static_cast<double>(rows), h.options());
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto& g = grads[0];
    return {saved[0] * g, saved[1] * g, torch::Tensor()};
  }
};

}  // namespace

bool fused_head_applies(const torch::Tensor& h, const torch::Tensor& weight) {
  return h.device().is_cpu() && weight.device().is_cpu() && h.scalar_type() == torch::kFloat32 &&
         weight.scalar_type() == torch::kFloat32 && h.dim() == 2 && h.size(0) > 0;
}

torch::Tensor fused_head_cross_entropy(const torch::Tensor& h, const torch::Tensor& weight,
                                       const torch::Tensor& targets) {
  return FusedHeadLoss::apply(h, weight, targets);
}

}  // namespace lab
