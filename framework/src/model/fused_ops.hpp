// Fused element-wise operations of the model's hot path, each one autograd node: RMSNorm, the
// SwiGLU product and the rotary embedding. On CPU (fp32 and fp64, contiguous) a single pass per direction
// replaces the half dozen LibTorch operations, and their temporaries, that the composite forms cost; other
// devices and dtypes use the composite forms.
#pragma once

#include <torch/types.h>

namespace lab {

// x · rsqrt(mean(x², -1) + eps) · weight, statistics in at least fp32.
torch::Tensor fused_rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// silu(gate) · up for packed = [gate | up] along the last dim (one GEMM makes both halves); the
// result has half the last dim.
torch::Tensor fused_swiglu(const torch::Tensor& packed);

// Rotary embedding of x [..., T, D] with cos, sin [T, D/2] (constants): pairs (2i, 2i+1) when
// interleaved, (i, i + D/2) otherwise, each rotated by its angle. Computed in x's dtype.
torch::Tensor fused_rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                           bool interleaved);

}  // namespace lab
