// Row kernels of the training cross-entropy on CPU fp32: one pass for logsumexp, one for the
// gradient written over the logits, both with a vectorised exp where the processor has AVX2.
#pragma once

#include <cstdint>

namespace lab {

// log Σ exp(x[0..n)).
float row_logsumexp(const float* x, int64_t n);

// x = exp(x - lse) * scale: the softmax row scaled (the one-hot is the caller's).
void row_scaled_softmax(float* x, int64_t n, float lse, float scale);

}  // namespace lab
