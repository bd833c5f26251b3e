// Mean token cross-entropy whose backward writes softmax − one-hot over the logits' own storage.
#pragma once

#include <torch/types.h>

namespace lab {

// logits [N, V] (float), targets [N] int64 -> mean over N of logsumexp(logits_n) − logits_n[target_n].
// Equal to torch's cross_entropy, but it keeps no log-probabilities and allocates no [N, V] gradient:
// backward turns the saved logits into the gradient in place. The logits must therefore not be used
// after backward (training discards them), and backward runs once (a second one fails loudly on the
// tensor's version counter).
torch::Tensor training_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets);

}  // namespace lab
