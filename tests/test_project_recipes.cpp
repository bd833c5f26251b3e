// Every recipe under recipes/ resolves, for every sweep variant and with every preset it declares:
// a sweep that switches a plugin on and off must not trip over the other variant's keys.
#include "recipe/config.hpp"
#include "recipe/recipe.hpp"
#include "sweep/sweep.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <filesystem>

using namespace lab;
namespace fs = std::filesystem;

namespace {

fs::path recipes_dir() { return fs::path(LAB_TEST_DATA_DIR).parent_path().parent_path() / "recipes"; }

void expect_every_variant_resolves(const Recipe& recipe, const std::string& what) {
  std::vector<SweepRun> runs;
  ASSERT_NO_THROW(runs = expand_sweep(recipe)) << what;
  ASSERT_FALSE(runs.empty()) << what;
  for (const auto& run : runs) {
    try {
      resolve_config(run.recipe, {}, test::registry());
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << ", variant " << run.variant << ":\n" << e.what();
    }
  }
}

}  // namespace

TEST(ProjectRecipes, EveryRecipeVariantAndPresetResolves) {
  size_t files = 0;
  for (const auto& item : fs::directory_iterator(recipes_dir())) {
    if (item.path().extension() != ".toml") continue;
    ++files;
    const Recipe base = Recipe::load(item.path());
    expect_every_variant_resolves(base, item.path().filename().string());
    for (const auto& preset : base.preset_names()) {
      Recipe with = base;
      with.apply_preset(preset);
      expect_every_variant_resolves(with, item.path().filename().string() + " --preset " + preset);
    }
  }
  EXPECT_GE(files, 15u) << "recipes/ should hold the experiment recipes";
}
