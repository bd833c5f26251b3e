// The out-of-tree example plugin (docs/examples/gqa_attention), built in-tree for these tests: its
// recipe validation and the grouped-query attention it computes.
#include "test_support.hpp"

#include <lab/error.hpp>
#include <lab/kernel.hpp>
#include <lab/reference_attention.hpp>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {

const std::string kExampleDir = std::string(LAB_TEST_FIXTURE_DIR) + "/example_gqa";

// The build's plugins plus the example; kept alive because descriptors live in the libraries.
lab::PluginRegistry& registry_with_example() {
  static lab::PluginRegistry* registry = [] {
    auto* r = new lab::PluginRegistry();
    r->load_directories({lab::test::plugin_dir(), kExampleDir});
    return r;
  }();
  return *registry;
}

const lab::PluginDescriptor& plugin(lab::Slot slot, const std::string& name) {
  return registry_with_example().require(slot, name);
}

// The recipe error for `sets` (with the gqa attention plugin), or "" when the recipe resolves.
std::string recipe_error(const std::vector<std::string>& sets) {
  lab::Recipe recipe = lab::Recipe::empty("gqa");
  recipe.set("attention.plugin=gqa");
  for (const auto& s : sets) recipe.set(s);
  lab::PluginRegistry registry;
  try {
    lab::resolve_config(recipe, {lab::test::plugin_dir(), kExampleDir}, registry);
  } catch (const lab::InputError& e) {
    return e.what();
  }
  return "";
}

// Attend context of one block: plain RoPE and the math kernel, causal.
struct Context : lab::AttendContext {
  const lab::Rope& rope_;
  lab::ForwardState state_;
  explicit Context(const lab::Rope& rope) : rope_(rope) {}
  torch::Tensor attend(const torch::Tensor&, const torch::Tensor& q, const torch::Tensor& k,
                       const torch::Tensor& v, double scale) override {
    lab::KernelArgs args;
    args.scale = scale;
    args.causal = true;
    return lab::reference_attention(q, k, v, args);
  }
  const lab::Rope& rope() const override { return rope_; }
  lab::ForwardState& state() override { return state_; }
};

// A handle sharing the parameter's storage.
torch::Tensor parameter(torch::nn::Module& module, const std::string& name) {
  auto params = module.named_parameters();
  const torch::Tensor* found = params.find(name);
  if (!found) throw std::runtime_error("no parameter " + name);
  return *found;
}

}  // namespace

TEST(InstallExample, ImpossibleKvHeadsAreRecipeErrors) {
  EXPECT_EQ(recipe_error({"model.n_heads=4", "model.d_model=32", "attention.kv_heads=2"}), "");

  std::string indivisible = recipe_error({"model.n_heads=4", "model.d_model=32", "attention.kv_heads=3"});
  EXPECT_NE(indivisible.find("attention.kv_heads: model.n_heads = 4 is not divisible by kv_heads = 3"),
            std::string::npos)
      << indivisible;

  std::string zero = recipe_error({"model.n_heads=4", "model.d_model=32", "attention.kv_heads=0"});
  EXPECT_NE(zero.find("attention.kv_heads: must be at least 1, got 0"), std::string::npos) << zero;

  // Reported together with the head-dim problem, one line each.
  std::string both = recipe_error({"model.n_heads=4", "model.d_model=30", "attention.kv_heads=3"});
  EXPECT_NE(both.find("attention.kv_heads:"), std::string::npos) << both;
  EXPECT_NE(both.find("model.d_model: d_model = 30 is not divisible by model.n_heads = 4"), std::string::npos)
      << both;

  std::string wrong_type = recipe_error({"attention.kv_heads=\"two\""});
  EXPECT_NE(wrong_type.find("attention.kv_heads"), std::string::npos) << wrong_type;
}

class InstallExampleGqa : public testing::TestWithParam<int64_t> {};

// Grouped-query attention is multi-head attention whose key/value heads are shared within groups:
// with mha's k and v weights set to the gqa heads repeated per group, both compute the same output.
TEST_P(InstallExampleGqa, EqualsMhaWithKeyValueHeadsRepeatedPerGroup) {
  const int64_t kv_heads = GetParam(), heads = 4, d_model = 16, head_dim = d_model / heads;
  lab::ModelDims dims;
  dims.d_model = d_model;
  dims.n_heads = heads;
  const auto& gqa_plugin = plugin(lab::Slot::Attention, "gqa");
  const auto& mha_plugin = plugin(lab::Slot::Attention, "mha");
  torch::manual_seed(3);
  auto gqa = gqa_plugin.make_attention(
      lab::default_options(gqa_plugin, {{"kv_heads", lab::Value::of(kv_heads)}}), dims);
  auto mha = mha_plugin.make_attention(lab::default_options(mha_plugin), dims);
  EXPECT_EQ(gqa->rope_dim(), head_dim);
  EXPECT_EQ(parameter(*gqa, "k_proj.weight").sizes(), (std::vector<int64_t>{kv_heads * head_dim, d_model}));
  EXPECT_EQ(parameter(*gqa, "v_proj.weight").sizes(), (std::vector<int64_t>{kv_heads * head_dim, d_model}));

  {
    torch::NoGradGuard no_grad;
    for (const char* name : {"q_proj.weight", "o_proj.weight"})
      parameter(*mha, name).copy_(parameter(*gqa, name));
    for (const char* name : {"k_proj.weight", "v_proj.weight"}) {
      auto grouped = parameter(*gqa, name).view({kv_heads, head_dim, d_model});
      parameter(*mha, name).copy_(grouped.repeat_interleave(heads / kv_heads, 0).reshape({d_model, d_model}));
    }
  }
  const auto& rope_plugin = plugin(lab::Slot::Rope, "rope");
  auto rope = rope_plugin.make_rope(lab::default_options(rope_plugin), lab::RopeDims{head_dim, 8});
  Context ctx(*rope);
  auto x = torch::randn({2, 7, d_model});
  auto out = gqa->forward(x, ctx);
  EXPECT_EQ(out.sizes(), x.sizes());
  EXPECT_TRUE(torch::allclose(out, mha->forward(x, ctx), 1e-5, 1e-6));

  // Gradients reach every projection, the shared key/value heads included.
  out.pow(2).sum().backward();
  for (const auto& p : gqa->named_parameters())
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
}

INSTANTIATE_TEST_SUITE_P(KvHeads, InstallExampleGqa, testing::Values(1, 2, 4));
