#include "recipe/memory_estimate.hpp"

#include <unistd.h>

namespace lab {

double training_memory_bytes(const TrainingShape& shape) {
  const ModelDims& d = shape.dims;
  // In double: the products of absurd values must not wrap around.
  const double dm = static_cast<double>(d.d_model), layers = static_cast<double>(d.n_layers);
  const double experts = static_cast<double>(d.n_experts + shape.shared_experts);
  const double ff = static_cast<double>(d.d_ff), vocab = static_cast<double>(d.vocab_size);
  const double tokens = static_cast<double>(shape.batch_size) * static_cast<double>(d.seq_len);
  const double parameters = vocab * dm + layers * (4 * dm * dm + experts * (3 * dm * ff + dm));
  // Kept for backward at the least (kernels differ in what else they keep): the residual stream of
  // each layer and the logits with their softmax and gradient.
  const double activations = layers * 2 * tokens * dm + 3 * tokens * vocab;
  return 4.0 * (4 * parameters + activations);  // float32; weights, gradients, two moments
}

double physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0;
}

}  // namespace lab
