#include <lab/onnx_graph.hpp>
#include <lab/rotary.hpp>

#include "model/fused_ops.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace lab {

Rotary::Rotary(int64_t dim, RopeLayout layout) : dim_(dim), layout_(layout) {}

torch::Tensor rope_inv_freq(int64_t dim, double base) {
  auto i = torch::arange(0, dim, 2, torch::kFloat64);
  return torch::pow(base, -i / static_cast<double>(dim));
}

std::pair<torch::Tensor, torch::Tensor> Rotary::tables(int64_t seq_len, torch::Device device) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto key = std::make_pair(seq_len, device.str());
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  // Angles in float64 so long positions keep their precision, then fp32 tables.
  auto positions = torch::arange(seq_len, torch::kFloat64) * position_scale();
  auto angles = torch::outer(positions, inv_freq(seq_len));
  auto cos = (angles.cos() * table_scale()).to(torch::kFloat32).to(device);
  auto sin = (angles.sin() * table_scale()).to(torch::kFloat32).to(device);
  if (cache_.size() > 16) cache_.clear();
  cache_[key] = {cos, sin};
  return {cos, sin};
}

torch::Tensor Rotary::apply(const torch::Tensor& x, int64_t offset) const {
  const int64_t t = x.size(-2);
  TORCH_CHECK(x.size(-1) == dim_, "rotary dim ", dim_, " does not match tensor dim ", x.size(-1));
  auto [cos_all, sin_all] = tables(offset + t, x.device());
  // At least fp32 (double stays double, for gradient checks).
  const auto acc = torch::promote_types(x.scalar_type(), torch::kFloat32);
  auto cos = cos_all.narrow(0, offset, t).to(acc);
  auto sin = sin_all.narrow(0, offset, t).to(acc);
  auto out = fused_rotary(x.to(acc), cos, sin, layout_ == RopeLayout::Interleaved);
  return out.to(x.scalar_type());
}

std::string Rotary::export_onnx(OnnxGraph& graph, const std::string& x) const {
  auto [cos, sin] = onnx_ops::position_tables(graph, *this, x, 2);
  return onnx_ops::rotate(graph, x, cos, sin, layout_ == RopeLayout::Interleaved);
}

std::vector<KeySpec> rotary_keys() {
  return {
      {"theta", Value::of(10000.0), "base of the inverse frequencies"},
      {"layout", Value::of("interleaved"),
       "pairing of rotated dims: interleaved (DeepSeek, torchtune) or half (NeoX rotate_half)"},
  };
}

void validate_rotary_keys(const Options& options, Problems& problems) {
  if (options.get_float("theta") <= 1.0) problems.push_back({"theta", "must be greater than 1"});
  const auto& layout = options.get_string("layout");
  if (layout != "interleaved" && layout != "half")
    problems.push_back({"layout", "unknown layout '" + layout + "' (choices: interleaved, half)"});
}

RopeLayout rotary_layout(const Options& options) {
  return options.get_string("layout") == "half" ? RopeLayout::HalfSplit : RopeLayout::Interleaved;
}

double yarn_mscale(double factor, double mscale) {
  return factor <= 1.0 ? 1.0 : 0.1 * mscale * std::log(factor) + 1.0;
}

torch::Tensor yarn_keep_mask(int64_t dim, double base, int64_t original_max_positions, double beta_fast,
                             double beta_slow) {
  const double pi = 3.14159265358979323846;
  // Pair index whose wavelength completes `rotations` turns over the original context.
  auto correction_dim = [&](double rotations) {
    return dim * std::log(original_max_positions / (rotations * 2 * pi)) / (2 * std::log(base));
  };
  double low = std::max(std::floor(correction_dim(beta_fast)), 0.0);
  double high = std::min(std::ceil(correction_dim(beta_slow)), static_cast<double>(dim - 1));
  if (low == high) high += 0.001;  // avoids a zero-width ramp
  auto i = torch::arange(dim / 2, torch::kFloat64);
  auto ramp = ((i - low) / (high - low)).clamp(0.0, 1.0);
  return 1.0 - ramp;
}

}  // namespace lab
