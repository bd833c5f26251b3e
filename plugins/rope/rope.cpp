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

lab::RopeLayout layout_of(const lab::Options& options) {
  return options.get_string("layout") == "half" ? lab::RopeLayout::HalfSplit : lab::RopeLayout::Interleaved;
}

lab::RopePtr make(const lab::Options& options, const lab::RopeDims& dims) {
  return std::make_shared<PlainRope>(dims.dim, layout_of(options), options.get_float("theta"));
}

void validate(const lab::Options& options, const lab::ModelDims&, lab::Problems& problems) {
  if (options.get_float("theta") <= 1.0) problems.push_back({"theta", "must be greater than 1"});
  const auto& layout = options.get_string("layout");
  if (layout != "interleaved" && layout != "half")
    problems.push_back({"layout", "unknown layout '" + layout + "' (choices: interleaved, half)"});
}

const lab::PluginDescriptor* descriptor() {
  static const lab::PluginDescriptor d = [] {
    lab::PluginDescriptor p;
    p.name = "rope";
    p.slot = lab::Slot::Rope;
    p.description = "rotary position embedding (no scaling)";
    p.keys = {
        {"theta", lab::Value::of(10000.0), "base of the inverse frequencies"},
        {"layout", lab::Value::of("interleaved"),
         "pairing of rotated dims: interleaved (DeepSeek, torchtune) or half (NeoX rotate_half)"},
    };
    p.validate = validate;
    p.make_rope = make;
    return p;
  }();
  return &d;
}

}  // namespace

LAB_PLUGIN(descriptor)
