// Plain rotary position embedding: θ_i = theta^(-2i/D), angle = position · θ_i.
#include <lab/plugin.hpp>
#include <lab/rotary.hpp>

#include <torch/torch.h>

namespace {

class PlainRope : public lab::Rotary {
 public:
  PlainRope(int64_t dim, lab::RopeLayout layout, double theta) : Rotary(dim, layout), theta_(theta) {}

 protected:
  torch::Tensor inv_freq(int64_t) const override { return lab::rope_inv_freq(dim(), theta_); }

 private:
  double theta_;
};

lab::RopePtr make(const lab::Options& options, const lab::RopeDims& dims) {
  return std::make_shared<PlainRope>(dims.dim, lab::rotary_layout(options), options.get_float("theta"));
}

const lab::PluginDescriptor* descriptor() {
  static const lab::PluginDescriptor d = [] {
    lab::PluginDescriptor p;
    p.name = "rope";
    p.slot = lab::Slot::Rope;
    p.description = "rotary position embedding (no scaling)";
    p.keys = lab::rotary_keys();
    p.validate = [](const lab::Options& options, const lab::ModelDims&, lab::Problems& problems) {
      lab::validate_rotary_keys(options, problems);
    };
    p.make_rope = make;
    return p;
  }();
  return &d;
}

}  // namespace

LAB_PLUGIN(descriptor)
