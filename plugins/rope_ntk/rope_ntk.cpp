// Dynamic NTK RoPE scaling: beyond max_position_embeddings the base grows with the sequence length,
// base' = base · (factor·L/L_max − (factor − 1))^(D/(D−2)). Computed from L on every call (stateless),
// unlike HF's cache, which keeps an enlarged base for later shorter sequences.
#include <lab/error.hpp>
#include <lab/plugin.hpp>
#include <lab/rotary.hpp>

#include <torch/torch.h>

#include <cmath>

namespace {

class DynamicNtkRope : public lab::Rotary {
 public:
  DynamicNtkRope(int64_t dim, lab::RopeLayout layout, double theta, double factor, int64_t max_positions)
      : Rotary(dim, layout), theta_(theta), factor_(factor), max_positions_(max_positions) {}

  // The base used for a sequence of `length` positions (cache included).
  double base_for(int64_t length) const {
    if (length <= max_positions_) return theta_;
    const double d = static_cast<double>(dim());
    return theta_ * std::pow(factor_ * length / max_positions_ - (factor_ - 1), d / (d - 2));
  }

 protected:
  torch::Tensor inv_freq(int64_t seq_len) const override {
    return lab::rope_inv_freq(dim(), base_for(seq_len));
  }

 private:
  double theta_, factor_;
  int64_t max_positions_;
};

lab::RopePtr make(const lab::Options& options, const lab::RopeDims& dims) {
  if (dims.dim < 4)
    throw lab::InputError("rope_ntk needs a rotary dim of at least 4 (got " + std::to_string(dims.dim) + ")");
  const int64_t configured = options.get_int("max_position_embeddings");
  return std::make_shared<DynamicNtkRope>(dims.dim, lab::rotary_layout(options), options.get_float("theta"),
                                          options.get_float("factor"),
                                          configured > 0 ? configured : dims.max_seq_len);
}

void validate(const lab::Options& options, const lab::ModelDims&, lab::Problems& problems) {
  lab::validate_rotary_keys(options, problems);
  if (options.get_float("factor") < 1) problems.push_back({"factor", "must be at least 1"});
  if (options.get_int("max_position_embeddings") < 0)
    problems.push_back({"max_position_embeddings", "must not be negative (0: the model's seq_len)"});
}

const lab::PluginDescriptor* descriptor() {
  static const lab::PluginDescriptor d = [] {
    lab::PluginDescriptor p;
    p.name = "rope_ntk";
    p.slot = lab::Slot::Rope;
    p.description = "RoPE with dynamic NTK scaling (base recomputed once the length exceeds the maximum)";
    p.keys = lab::rotary_keys();
    p.keys.push_back({"factor", lab::Value::of(2.0), "NTK scaling factor"});
    p.keys.push_back({"max_position_embeddings", lab::Value::of(int64_t{0}),
                      "length beyond which the base grows (0: the model's training seq_len)"});
    p.validate = validate;
    p.make_rope = make;
    return p;
  }();
  return &d;
}

}  // namespace

LAB_PLUGIN(descriptor)
