// The reference attention every kernel is checked against: explicit scores, -inf causal mask,
// softmax in at least fp32, probability dropout, weighted sum.
#pragma once

#include <lab/kernel.hpp>

namespace lab {

// Same contract as Kernel::attend. With causal masking and S > T the queries are the last T positions.
torch::Tensor reference_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                  const KernelArgs& args);

// [T, S] boolean mask, true where query i (at key position i + S - T) must not see key j.
torch::Tensor causal_mask(int64_t t, int64_t s, torch::Device device);

}  // namespace lab
