// Recipes: extends, --set, strict validation with file:line:key messages, resolved output.
#include "test_support.hpp"

#include <lab/error.hpp>

#include <gtest/gtest.h>
#include <toml++/toml.h>

using namespace lab;

namespace {

std::string recipe_path(const std::string& name) {
  return std::string(LAB_TEST_DATA_DIR) + "/recipes/" + name;
}

// The InputError text of resolving a recipe file with optional overrides.
std::string error_of(const std::string& name, const std::vector<std::string>& sets = {}) {
  try {
    Recipe recipe = Recipe::load(recipe_path(name));
    for (const auto& s : sets) recipe.set(s);
    PluginRegistry registry;
    resolve_config(recipe, {test::plugin_dir()}, registry);
  } catch (const InputError& err) {
    return err.what();
  }
  return "";
}

Config resolve_file(const std::string& name, const std::vector<std::string>& sets, PluginRegistry& registry) {
  Recipe recipe = Recipe::load(recipe_path(name));
  for (const auto& s : sets) recipe.set(s);
  return resolve_config(recipe, {test::plugin_dir()}, registry);
}

}  // namespace

TEST(Recipe, TrainStepsBesideStagesIsIgnoredWithAWarningUnlessInheritedOrTheirTotal) {
  PluginRegistry registry;
  testing::internal::CaptureStderr();
  Config c = resolve_file("child.toml", {}, registry);  // base.toml's train.steps = 5: replaced
  EXPECT_EQ(testing::internal::GetCapturedStderr().find("train.steps"), std::string::npos);
  EXPECT_EQ(c.train.steps, 7);

  testing::internal::CaptureStderr();
  c = resolve_file("child.toml", {"train.steps=50"}, registry);
  const std::string warning = testing::internal::GetCapturedStderr();
  EXPECT_NE(warning.find("lab: warning: train.steps = 50 (--set) is ignored: [[train.stages]] give the steps "
                         "(7 in all)"),
            std::string::npos)
      << warning;
  EXPECT_EQ(c.train.steps, 7);

  testing::internal::CaptureStderr();
  resolve_file("child.toml", {"train.steps=7"}, registry);  // as recipe.resolved.toml has it
  EXPECT_EQ(testing::internal::GetCapturedStderr().find("train.steps"), std::string::npos);
}

TEST(Recipe, ExtendsOverridesKeysAndReplacesStagesWhole) {
  PluginRegistry registry;
  Config c = resolve_file("child.toml", {}, registry);
  EXPECT_EQ(c.dims.d_model, 96);  // child wins
  EXPECT_EQ(c.dims.n_heads, 4);   // inherited
  EXPECT_EQ(c.experiment, "unit");
  EXPECT_TRUE(c.attention.options.get_bool("bias"));
  ASSERT_EQ(c.train.stages.size(), 2u);  // the base's single stage is replaced, not merged
  EXPECT_EQ(c.train.stages[0].name, "first");
  EXPECT_EQ(c.train.stages[1].steps, 4);
  EXPECT_DOUBLE_EQ(c.train.stages[1].lr, 5e-4);
  EXPECT_DOUBLE_EQ(c.train.stages[0].lr, c.train.optimizer.lr);
  EXPECT_EQ(c.train.stages[1].groups, (std::vector<std::string>{"attention", "norms"}));
  EXPECT_EQ(c.train.steps, 7);
  // Locations point at the file that set the key.
  EXPECT_NE(c.resolved.at("model.n_heads").where.file.find("base.toml"), std::string::npos);
  EXPECT_NE(c.resolved.at("model.d_model").where.file.find("child.toml"), std::string::npos);
}

TEST(Recipe, SetOverridesWithTomlValuesAndBareStrings) {
  PluginRegistry registry;
  Config c = resolve_file(
      "child.toml",
      {"model.d_model=128", "train.lr=0.002", "kernel.plugin=math", "experiment.variant=\"v2\""}, registry);
  EXPECT_EQ(c.dims.d_model, 128);
  EXPECT_DOUBLE_EQ(c.train.optimizer.lr, 0.002);
  EXPECT_EQ(c.kernel.plugin, "math");
  EXPECT_EQ(c.variant, "v2");
  EXPECT_EQ(c.resolved.at("model.d_model").where.str(), "--set");
}

TEST(Recipe, DefaultsAreFilledAndDefaultMoeWidthIsFourTimesDModel) {
  PluginRegistry registry;
  Config c = resolve_file("base.toml", {}, registry);
  EXPECT_EQ(c.dims.d_ff, 4 * 64);
  EXPECT_EQ(c.kernel.plugin, "sdpa");
  EXPECT_EQ(c.router.plugin, "topk");
  EXPECT_DOUBLE_EQ(c.router.options.get_float("noise_std"), 0.1);
  EXPECT_TRUE(c.resolved.count("router.aux_weight"));
  EXPECT_TRUE(c.resolved.count("train.seed"));
}

TEST(Recipe, ResolvedTomlParsesBackToTheSameValues) {
  PluginRegistry registry;
  Config c = resolve_file("child.toml", {}, registry);
  toml::table t = toml::parse(to_toml(c.resolved));
  EXPECT_EQ(t["model"]["d_model"].value<int64_t>(), 96);
  EXPECT_EQ(t["router"]["plugin"].value<std::string>(), "topk");
  auto* stages = t["train"]["stages"].as_array();
  ASSERT_NE(stages, nullptr);
  EXPECT_EQ(stages->size(), 2u);
  EXPECT_EQ((*stages)[1].as_table()->get("lr")->value<double>(), 5e-4);
}

TEST(RecipeErrors, UnknownKeyNamesFileLineAndSuggestsTheRightKey) {
  std::string e = error_of("typo.toml");
  EXPECT_NE(e.find("typo.toml:2: model.d_modle: unknown key"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'model.d_model'"), std::string::npos) << e;
}

TEST(RecipeErrors, WrongTypeNamesTheExpectedType) {
  std::string e = error_of("wrong_type.toml");
  EXPECT_NE(e.find("wrong_type.toml:3: model.n_heads: expected integer, found string \"eight\""),
            std::string::npos)
      << e;
}

TEST(RecipeErrors, ImpossibleShapesAreReportedTogether) {
  std::string e = error_of("bad_shape.toml");
  EXPECT_NE(e.find("bad_shape.toml:2: model.d_model: d_model = 100 is not divisible by model.n_heads = 8"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("bad_shape.toml:7: moe.top_k: top_k = 6 exceeds moe.experts = 4"), std::string::npos) << e;
}

TEST(RecipeErrors, SyntaxErrorsCycleAndMissingFiles) {
  EXPECT_NE(error_of("syntax.toml").find("syntax.toml:2:"), std::string::npos);
  EXPECT_NE(error_of("syntax.toml").find("TOML syntax error"), std::string::npos);
  EXPECT_NE(error_of("cycle_a.toml").find("forms a cycle"), std::string::npos);
  EXPECT_NE(error_of("nope.toml").find("nope.toml: recipe not found"), std::string::npos);
}

TEST(RecipeErrors, MissingPluginListsTheAvailableOnes) {
  std::string e = error_of("missing_plugin.toml");
  EXPECT_NE(e.find("missing_plugin.toml:2: attention.plugin: no attention plugin 'mhaa'"), std::string::npos)
      << e;
  EXPECT_NE(e.find("mha"), std::string::npos) << e;
}

TEST(RecipeErrors, BadOverridesAndStageKeys) {
  EXPECT_NE(
      error_of("base.toml", {"train.optimizer=sgd"}).find("--set: train.optimizer: unknown optimizer 'sgd'"),
      std::string::npos);
  EXPECT_NE(error_of("base.toml", {"train.stages.0.grups=[\"all\"]"}).find("did you mean 'groups'"),
            std::string::npos);
  EXPECT_NE(error_of("base.toml", {"train.stages.0.groups=[\"experts\", \"routr\"]"})
                .find("unknown parameter group 'routr'; did you mean 'router'?"),
            std::string::npos);
  EXPECT_NE(error_of("base.toml", {"model.dropout=1.5"}).find("model.dropout: must be in [0, 1)"),
            std::string::npos);
  EXPECT_NE(error_of("base.toml", {"rope.layout=diagonal"}).find("rope.layout: unknown layout 'diagonal'"),
            std::string::npos);
  EXPECT_NE(error_of("base.toml", {"seeds=[1, \"two\"]"}).find("seeds: expected an array of integers"),
            std::string::npos);
  EXPECT_THROW(Recipe::empty().set("no_equals_sign"), InputError);
}

TEST(RecipeErrors, AStageModeTheSparsePluginDoesNotKnowIsARecipeError) {
  const std::string message =
      error_of("base.toml", {"sparse.plugin=dsa", "sparse.top_k=8", "train.stages.0.steps=2",
                             "train.stages.1.steps=2", "train.stages.1.mode=\"sparce\""});
  EXPECT_NE(message.find("train.stages.1.mode: the dsa sparse plugin has no mode 'sparce'"),
            std::string::npos)
      << message;
  // Known modes pass, and without a sparse plugin a mode has nothing to reach.
  EXPECT_NO_THROW(
      test::make_config({"sparse.plugin=dsa", "train.stages.0.steps=2", "train.stages.0.mode=\"warmup\""}));
  EXPECT_NO_THROW(test::make_config({"train.stages.0.steps=2", "train.stages.0.mode=\"warmup\""}));
}

TEST(RecipeErrors, IntegerLiteralIsAcceptedForFloatKeysButNotTheReverse) {
  EXPECT_EQ(error_of("base.toml", {"train.lr=1"}), "");
  EXPECT_NE(error_of("base.toml", {"train.steps=10.5"}).find("expected integer, found float"),
            std::string::npos);
}
