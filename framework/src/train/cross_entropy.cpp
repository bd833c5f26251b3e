#include "train/cross_entropy.hpp"

#include "train/cross_entropy_rows.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

namespace lab {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// fp32 CPU logits take the row kernels (one read for the forward, one read-write for the backward);
// other devices and types compose LibTorch operations.
bool row_kernels(const torch::Tensor& logits) {
  return logits.device().is_cpu() && logits.scalar_type() == torch::kFloat32 && logits.is_contiguous();
}

// Rows per parallel task: a few vocabulary rows each, so the threads share the batch evenly.
constexpr int64_t kRowGrain = 16;

torch::Tensor cpu_logsumexp(const torch::Tensor& logits) {
  const int64_t rows = logits.size(0), width = logits.size(1);
  auto lse = torch::empty({rows}, logits.options());
  const float* x = logits.data_ptr<float>();
  float* out = lse.data_ptr<float>();
  at::parallel_for(0, rows, kRowGrain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) out[r] = row_logsumexp(x + r * width, width);
  });
  return lse;
}

// grad = (softmax − one-hot) · scale, written over the logits.
void cpu_gradient_in_place(torch::Tensor& grad, const torch::Tensor& targets, const torch::Tensor& lse,
                           float scale) {
  const int64_t rows = grad.size(0), width = grad.size(1);
  float* x = grad.data_ptr<float>();
  const float* l = lse.data_ptr<float>();
  const auto t = targets.to(torch::kInt64).contiguous();
  const int64_t* target = t.data_ptr<int64_t>();
  at::parallel_for(0, rows, kRowGrain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      row_scaled_softmax(x + r * width, width, l[r], scale);
      x[r * width + target[r]] -= scale;
    }
  });
}

class InPlaceCrossEntropy : public torch::autograd::Function<InPlaceCrossEntropy> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& logits,
                               const torch::Tensor& targets) {
    auto lse = row_kernels(logits) ? cpu_logsumexp(logits) : torch::logsumexp(logits, -1);
    auto picked = logits.gather(1, targets.unsqueeze(1)).squeeze(1);
    ctx->save_for_backward({logits, targets, lse});
    return (lse - picked).mean();
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    auto saved = ctx->get_saved_variables();
    auto grad = saved[0].detach();  // the logits' storage becomes their gradient
    const auto& targets = saved[1];
    const auto& lse = saved[2];
    if (row_kernels(grad)) {
      const float scale = grad_outputs[0].item<float>() / static_cast<float>(grad.size(0));
      cpu_gradient_in_place(grad, targets, lse, scale);
      return {grad, torch::Tensor()};
    }
    grad.sub_(lse.unsqueeze(1)).exp_();  // softmax
    auto index = targets.unsqueeze(1);
    grad.scatter_(1, index, grad.gather(1, index) - 1.0);
    grad.mul_(grad_outputs[0] / static_cast<double>(grad.size(0)));
    return {grad, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor training_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets) {
  return InPlaceCrossEntropy::apply(logits, targets);
}

}  // namespace lab
