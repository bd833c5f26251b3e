// Linear RoPE scaling (position interpolation): angle = (position / factor) · θ_i.
#include <lab/plugin.hpp>
#include <lab/rotary.hpp>

#include <torch/torch.h>

namespace {

class LinearRope : public lab::Rotary {
 public:
  LinearRope(int64_t dim, lab::RopeLayout layout, double theta, double factor)
      : Rotary(dim, layout), theta_(theta), factor_(factor) {}

 protected:
  torch::Tensor inv_freq(int64_t) const override { return lab::rope_inv_freq(dim(), theta_); }
  double position_scale() const override { return 1.0 / factor_; }

 private:
  double theta_, factor_;
};

lab::RopePtr make(const lab::Options& options, const lab::RopeDims& dims) {
  return std::make_shared<LinearRope>(dims.dim, lab::rotary_layout(options), options.get_float("theta"),
                                      options.get_float("factor"));
}

void validate(const lab::Options& options, const lab::ModelDims&, lab::Problems& problems) {
  lab::validate_rotary_keys(options, problems);
  if (options.get_float("factor") <= 0) problems.push_back({"factor", "must be positive"});
}

const lab::PluginDescriptor* descriptor() {
  static const lab::PluginDescriptor d = [] {
    lab::PluginDescriptor p;
    p.name = "rope_linear";
    p.slot = lab::Slot::Rope;
    p.description = "RoPE with linear position interpolation (positions divided by factor)";
    p.keys = lab::rotary_keys();
    p.keys.push_back({"factor", lab::Value::of(2.0), "positions are divided by this"});
    p.validate = validate;
    p.make_rope = make;
    return p;
  }();
  return &d;
}

}  // namespace

LAB_PLUGIN(descriptor)
