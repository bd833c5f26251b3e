// Fused element-wise operations of the model's hot path, each one autograd node: RMSNorm and the
// SwiGLU product. On CPU (fp32 and fp64, contiguous) a single pass per direction replaces the half
// dozen LibTorch operations, and their temporaries, that the composite forms cost; other devices and
// dtypes use the composite forms.
#pragma once

#include <torch/types.h>

namespace lab {

// x · rsqrt(mean(x², -1) + eps) · weight, statistics in at least fp32.
torch::Tensor fused_rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// silu(gate) · up for packed = [gate | up] along the last dim (one GEMM makes both halves); the
// result has half the last dim.
torch::Tensor fused_swiglu(const torch::Tensor& packed);

}  // namespace lab
