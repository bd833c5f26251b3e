// FlashAttention-2 CUDA kernels behind a plain C++ interface (no LibTorch), so this file and
// flash2_kernels.cu compile with nvcc alone. Tensors are contiguous [BH, T, D] with 16-bit elements
// (fp16 or bf16); statistics and accumulators are fp32. Tiles are 64 x 64, four warps per block,
// products on tensor cores through WMMA (sm_80 or newer).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace lab::flash2::cuda {

enum class Element { Half, BFloat16 };

struct Sizes {
  int64_t bh = 0;  // batch * heads
  int64_t tq = 0, tk = 0;
  int64_t dk = 0, dv = 0;  // at most kMaxHeadDim each
  float scale = 1.0f;
  bool causal = true;  // bottom-right aligned: key j visible to query i iff j <= i + tk - tq
};

constexpr int64_t kMaxHeadDim = 256;

struct ForwardArgs {
  Sizes sizes;
  const void *q, *k, *v;
  void* out;   // [BH, tq, dv]
  float* lse;  // [BH, tq]; +inf for rows without a visible key
};

struct BackwardArgs {
  Sizes sizes;
  const void *q, *k, *v, *out, *dout;
  const float* lse;
  float* delta;  // [BH, tq] scratch: rowsum(dO ∘ O)
  void *dq, *dk, *dv;
};

// Both return the first launch error (cudaSuccess when all kernels were queued).
cudaError_t forward(const ForwardArgs& args, Element element, cudaStream_t stream);
cudaError_t backward(const BackwardArgs& args, Element element, cudaStream_t stream);

}  // namespace lab::flash2::cuda
