#include "low_precision.hpp"

#include <lab/error.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace dsa {

namespace {

constexpr float kE4m3Max = 448.0f;
constexpr int kMantissaBits = 3, kMinNormalExponent = -6;

}  // namespace

IndexPrecision index_precision(const std::string& name) {
  if (name == "fp32") return IndexPrecision::Fp32;
  if (name == "bf16") return IndexPrecision::Bf16;
  if (name == "fp8") return IndexPrecision::Fp8;
  throw lab::InputError("sparse.index_precision: expected fp32, bf16 or fp8, got '" + name + "'");
}

float e4m3_decode(uint8_t code) {
  const float sign = (code & 0x80) ? -1.0f : 1.0f;
  const int exponent = (code >> kMantissaBits) & 0xF, mantissa = code & 0x7;
  if (exponent == 0xF && mantissa == 0x7) return std::numeric_limits<float>::quiet_NaN();
  if (exponent == 0)
    return sign * std::ldexp(static_cast<float>(mantissa), kMinNormalExponent - kMantissaBits);
  return sign * std::ldexp(1.0f + static_cast<float>(mantissa) / 8.0f, exponent - 7);
}

uint8_t e4m3_encode(float value) {
  if (std::isnan(value)) return 0x7F;
  const uint8_t sign = std::signbit(value) ? 0x80 : 0x00;
  // Rounding happens on the magnitude's grid; the nearest code then follows by search over the 127
  // finite magnitudes (the table is tiny, and a search cannot get the edge cases wrong).
  const float magnitude = round_to_e4m3(torch::tensor(std::fabs(value))).item<float>();
  for (uint8_t code = 0; code < 0x7F; ++code)
    if (e4m3_decode(code) == magnitude) return static_cast<uint8_t>(sign | code);
  return static_cast<uint8_t>(sign | 0x7E);  // unreachable: every rounded magnitude has a code
}

torch::Tensor round_to_e4m3(const torch::Tensor& x) {
  auto v = x.to(torch::kFloat32);
  // Saturating: anything beyond 448, infinities included, rounds to 448; 1024 keeps the grid finite.
  auto magnitude = v.abs().clamp_max(1024.0f);
  // The grid step at each magnitude: 2^(e - 3) for normal numbers (e = floor(log2 |x|)), 2^-9 below 2^-6.
  auto exponent = torch::floor(torch::log2(magnitude.clamp_min(std::ldexp(1.0f, kMinNormalExponent))));
  auto step = torch::exp2(exponent - kMantissaBits);
  // torch::round rounds half to even, and the division by a power of two is exact.
  auto rounded = torch::round(magnitude / step) * step;
  rounded = rounded.clamp_max(kE4m3Max);
  return torch::where(v.isnan(), v, torch::copysign(rounded, v));
}

Quantized quantize_e4m3(const torch::Tensor& x) {
  auto v = x.to(torch::kFloat32);
  auto amax = v.abs().amax(-1);
  auto scale = torch::where(amax > 0, amax / kE4m3Max, torch::ones_like(amax));
  return {round_to_e4m3(v / scale.unsqueeze(-1)), scale};
}

IndexerHeads at_precision(const IndexerHeads& h, IndexPrecision precision) {
  switch (precision) {
    case IndexPrecision::Fp32:
      return h;
    case IndexPrecision::Bf16: {
      auto round = [](const torch::Tensor& t) { return t.to(torch::kBFloat16).to(torch::kFloat32); };
      return IndexerHeads{round(h.q), round(h.k), h.w.to(torch::kFloat32), {}};
    }
    case IndexPrecision::Fp8: {
      const Quantized q = quantize_e4m3(h.q);  // [B, T, HI, dI]: a scale per token and head
      const Quantized k = quantize_e4m3(h.k);  // [B, S, dI]: a scale per key token
      return IndexerHeads{q.values, k.values, h.w.to(torch::kFloat32) * q.scale, k.scale};
    }
  }
  return h;
}

double selection_recall(const torch::Tensor& reduced, const torch::Tensor& fp32) {
  TORCH_CHECK(reduced.sizes() == fp32.sizes(), "dsa: selections of different shapes");
  const int64_t width = fp32.size(-1);
  auto a = reduced.reshape({-1, width}).cpu(), b = fp32.reshape({-1, width}).cpu();
  const int64_t keys = std::max(a.max().item<int64_t>(), b.max().item<int64_t>()) + 1;
  // Each row's reduced selection as a mask over the keys (column 0 collects the -1 padding).
  auto chosen = torch::zeros({a.size(0), keys + 1}, torch::kBool).scatter_(1, a + 1, true);
  auto hit = chosen.gather(1, b + 1).logical_and(b.ge(0));
  const double wanted = b.ge(0).sum().item<double>();
  return wanted > 0 ? hit.sum().item<double>() / wanted : 1.0;
}

}  // namespace dsa
