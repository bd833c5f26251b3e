// Rotary embedding machinery shared by the RoPE plugins: they supply frequencies and scales.
#pragma once

#include <lab/options.hpp>
#include <lab/rope.hpp>

#include <map>
#include <mutex>

namespace lab {

class Rotary : public Rope {
 public:
  Rotary(int64_t dim, RopeLayout layout);
  torch::Tensor apply(const torch::Tensor& x, int64_t offset = 0) const override;
  std::pair<torch::Tensor, torch::Tensor> tables(int64_t seq_len, torch::Device device) const override;
  int64_t dim() const override { return dim_; }
  // Rotates with tables stored for the export's maximum length, in this layout.
  std::string export_onnx(OnnxGraph& graph, const std::string& x) const override;
  RopeLayout layout() const { return layout_; }
  // The inverse frequencies [dim/2] (float64) in use for a sequence of `seq_len` positions.
  torch::Tensor frequencies(int64_t seq_len) const { return inv_freq(seq_len); }

 protected:
  // Inverse frequencies [dim/2] (float64) for a sequence of `seq_len` positions.
  virtual torch::Tensor inv_freq(int64_t seq_len) const = 0;
  // Positions are multiplied by this before the angle (linear scaling: 1/factor).
  virtual double position_scale() const { return 1.0; }
  // cos and sin are multiplied by this (YaRN's attention temperature in the HF convention).
  virtual double table_scale() const { return 1.0; }

 private:
  int64_t dim_;
  RopeLayout layout_;
  mutable std::mutex mutex_;
  mutable std::map<std::pair<int64_t, std::string>, std::pair<torch::Tensor, torch::Tensor>> cache_;
};

// Standard inverse frequencies base^(-2i/dim), i = 0..dim/2-1, in float64.
torch::Tensor rope_inv_freq(int64_t dim, double base);

// The keys every RoPE plugin shares (theta, layout), their checks, and the layout they name.
std::vector<KeySpec> rotary_keys();
void validate_rotary_keys(const Options& options, Problems& problems);
RopeLayout rotary_layout(const Options& options);

// YaRN's attention temperature g(s, m) = 0.1·m·ln(s) + 1 for s > 1, else 1 (DeepSeek's yarn_get_mscale).
double yarn_mscale(double factor, double mscale);

// YaRN's per-pair blend between original (1) and interpolated (0) frequencies, [dim/2] float64:
// 1 - ramp over the correction range [low, high] found from beta_fast / beta_slow rotations.
torch::Tensor yarn_keep_mask(int64_t dim, double base, int64_t original_max_positions, double beta_fast,
                             double beta_slow);

}  // namespace lab
