// YaRN RoPE scaling as DeepSeek defines it: high-frequency pairs keep their frequency, low-frequency
// pairs are interpolated by `factor`, a linear ramp in between; cos/sin carry g(s,mscale)/g(s,mscale_all_dim)
// and the softmax scale is multiplied by g(s, mscale_all_dim)².
#include <lab/plugin.hpp>
#include <lab/rotary.hpp>

#include <torch/torch.h>

namespace {

struct YarnSettings {
  double theta = 10000, factor = 1, beta_fast = 32, beta_slow = 1, mscale = 1, mscale_all_dim = 0;
  int64_t original_max_positions = 0;
};

class YarnRope : public lab::Rotary {
 public:
  YarnRope(int64_t dim, lab::RopeLayout layout, const YarnSettings& s) : Rotary(dim, layout), s_(s) {
    auto base = lab::rope_inv_freq(dim, s.theta);
    auto keep = lab::yarn_keep_mask(dim, s.theta, s.original_max_positions, s.beta_fast, s.beta_slow);
    inv_freq_ = base * keep + (base / s.factor) * (1 - keep);
  }

  double softmax_scale_factor() const override {
    if (s_.mscale_all_dim == 0) return 1.0;  // as HF: no temperature without mscale_all_dim
    const double m = lab::yarn_mscale(s_.factor, s_.mscale_all_dim);
    return m * m;
  }

 protected:
  torch::Tensor inv_freq(int64_t) const override { return inv_freq_; }
  double table_scale() const override {
    return lab::yarn_mscale(s_.factor, s_.mscale) / lab::yarn_mscale(s_.factor, s_.mscale_all_dim);
  }

 private:
  YarnSettings s_;
  torch::Tensor inv_freq_;
};

lab::RopePtr make(const lab::Options& options, const lab::RopeDims& dims) {
  YarnSettings s;
  s.theta = options.get_float("theta");
  s.factor = options.get_float("factor");
  s.beta_fast = options.get_float("beta_fast");
  s.beta_slow = options.get_float("beta_slow");
  s.mscale = options.get_float("mscale");
  s.mscale_all_dim = options.get_float("mscale_all_dim");
  const int64_t configured = options.get_int("original_max_position_embeddings");
  s.original_max_positions = configured > 0 ? configured : dims.max_seq_len;
  return std::make_shared<YarnRope>(dims.dim, lab::rotary_layout(options), s);
}

void validate(const lab::Options& options, const lab::ModelDims&, lab::Problems& problems) {
  lab::validate_rotary_keys(options, problems);
  if (options.get_float("factor") < 1) problems.push_back({"factor", "must be at least 1"});
  if (options.get_int("original_max_position_embeddings") < 0)
    problems.push_back({"original_max_position_embeddings", "must not be negative (0: the model's seq_len)"});
  if (options.get_float("beta_fast") <= options.get_float("beta_slow"))
    problems.push_back({"beta_fast", "must be greater than beta_slow"});
  if (options.get_float("beta_slow") <= 0) problems.push_back({"beta_slow", "must be positive"});
  if (options.get_float("mscale") < 0) problems.push_back({"mscale", "must not be negative"});
  if (options.get_float("mscale_all_dim") < 0) problems.push_back({"mscale_all_dim", "must not be negative"});
}

const lab::PluginDescriptor* descriptor() {
  static const lab::PluginDescriptor d = [] {
    lab::PluginDescriptor p;
    p.name = "yarn";
    p.slot = lab::Slot::Rope;
    p.description = "YaRN RoPE scaling (DeepSeek-V2/V3), with its softmax temperature";
    p.keys = lab::rotary_keys();
    p.keys.push_back({"factor", lab::Value::of(4.0), "context extension factor s"});
    p.keys.push_back({"original_max_position_embeddings", lab::Value::of(int64_t{0}),
                      "context length before extension (0: the model's training seq_len)"});
    p.keys.push_back({"beta_fast", lab::Value::of(32.0), "rotations above which pairs keep their frequency"});
    p.keys.push_back(
        {"beta_slow", lab::Value::of(1.0), "rotations below which pairs are fully interpolated"});
    p.keys.push_back(
        {"mscale", lab::Value::of(1.0), "temperature coefficient on cos/sin (with mscale_all_dim)"});
    p.keys.push_back({"mscale_all_dim", lab::Value::of(1.0),
                      "temperature coefficient of the softmax scale (DeepSeek-V3: 1.0; 0 turns it off)"});
    p.validate = validate;
    p.make_rope = make;
    return p;
  }();
  return &d;
}

}  // namespace

LAB_PLUGIN(descriptor)
