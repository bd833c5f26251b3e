// Reduced-precision indexer inputs, as DeepSeek-V3.2 runs its lightning indexer: queries and keys
// quantised to float8 e4m3 (one scale per key token, one per query token and head) or rounded to bf16,
// their dot products accumulated in fp32. Only the selection sees these values; the indexer's loss and
// its gradients stay in the training precision.
#pragma once

#include "indexer.hpp"

#include <torch/types.h>

#include <cstdint>
#include <string>

namespace dsa {

enum class IndexPrecision { Fp32, Bf16, Fp8 };

// "fp32", "bf16" or "fp8"; anything else throws lab::InputError naming the key.
IndexPrecision index_precision(const std::string& name);

// float8 e4m3 ("fn": no infinities, S.1111.111 is NaN, largest finite ±448), bit exact.
float e4m3_decode(uint8_t code);
// Round to nearest, ties to even; magnitudes above 448 (infinities too) saturate to ±448; NaN -> 0x7F.
uint8_t e4m3_encode(float value);
// The e4m3 value nearest each element (same rounding and saturation as e4m3_encode), as fp32.
torch::Tensor round_to_e4m3(const torch::Tensor& x);

// e4m3 quantisation with one scale per vector along the last dim: x ≈ values · scale, where scale =
// amax(|x|) / 448 (1 for an all-zero vector) and values are e4m3 numbers. scale has x's shape without
// its last dim.
struct Quantized {
  torch::Tensor values, scale;
};
Quantized quantize_e4m3(const torch::Tensor& x);

// The heads the selection scores from, at `precision`: for fp8, q and k are e4m3 values, the query
// scales are folded into w (ReLU commutes with a positive scale) and the key scales go to k_scale,
// applied after the heads are summed, as an FP8 GEMM with fp32 accumulation computes it.
IndexerHeads at_precision(const IndexerHeads& heads, IndexPrecision precision);

// Share of the fp32 selection's keys (-1 padding excluded) that `reduced` also selected, over all rows.
double selection_recall(const torch::Tensor& reduced, const torch::Tensor& fp32);

}  // namespace dsa
