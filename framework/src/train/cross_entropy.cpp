#include "train/cross_entropy.hpp"

#include <torch/torch.h>

namespace lab {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

class InPlaceCrossEntropy : public torch::autograd::Function<InPlaceCrossEntropy> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& logits,
                               const torch::Tensor& targets) {
    auto lse = torch::logsumexp(logits, -1);
    auto picked = logits.gather(1, targets.unsqueeze(1)).squeeze(1);
    ctx->save_for_backward({logits, targets, lse});
    return (lse - picked).mean();
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    auto saved = ctx->get_saved_variables();
    auto grad = saved[0].detach();  // the logits' storage becomes their gradient
    const auto& targets = saved[1];
    const auto& lse = saved[2];
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
