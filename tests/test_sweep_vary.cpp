// lab sweep --vary: axes from the command line, checked like --set, and the per-run ETA lines.
#include "sweep/eta.hpp"
#include "sweep/sweep.hpp"
#include "sweep/vary.hpp"
#include "test_support.hpp"
#include "tiny_run.hpp"
#include "train/progress.hpp"

#include <lab/error.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <regex>

using namespace lab;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> variants_of(const Recipe& recipe) {
  std::vector<std::string> names;
  for (const auto& run : expand_sweep(recipe)) names.push_back(run.variant);
  return names;
}

std::string quoted_sets(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args) out += " --set '" + a + "'";
  return out;
}

}  // namespace

TEST(SweepVary, AddsAndReplacesAxes) {
  Recipe recipe = Recipe::empty("vary.toml");
  recipe.set("sweep.moe.top_k=[1, 2]");
  apply_vary(recipe, "sparse.index_heads=2,4, 8");
  EXPECT_EQ(variants_of(recipe).size(), 6u);
  apply_vary(recipe, "moe.top_k=[3]");  // replaces the recipe's list
  EXPECT_EQ(variants_of(recipe),
            (std::vector<std::string>{"moe.top_k-3+sparse.index_heads-2", "moe.top_k-3+sparse.index_heads-4",
                                      "moe.top_k-3+sparse.index_heads-8"}));
  const Entry* axis = recipe.find("sweep.sparse.index_heads");
  ASSERT_NE(axis, nullptr);
  EXPECT_EQ(axis->where.str(), "--vary");
  EXPECT_EQ(axis->value.list[2].type, ValueType::Int);
  apply_vary(recipe, "attention.plugin=mha,mla");  // bare words are strings, as with --set
  EXPECT_EQ(recipe.find("sweep.attention.plugin")->value.list[1].s, "mla");
  EXPECT_THROW(apply_vary(recipe, "moe.top_k"), InputError);
  EXPECT_THROW(apply_vary(recipe, "moe.top_k="), InputError);
  EXPECT_THROW(apply_vary(recipe, "moe.top_k=1,,2"), InputError);
  EXPECT_THROW(apply_vary(recipe, "=1,2"), InputError);
}

TEST(SweepVary, EtaReadsAsTimeLeft) {
  EXPECT_EQ(format_duration(45.2), "45s");
  EXPECT_EQ(format_duration(185), "3m05s");
  EXPECT_EQ(format_duration(7620), "2h07m");
  SweepEta eta(3);
  EXPECT_EQ(eta.describe(), "0 of 3 trained | ETA after the first run");
  eta.start_run();
  eta.finish_run();
  EXPECT_NE(eta.describe().find("1 of 3 trained, 0s elapsed | ETA 0s"), std::string::npos) << eta.describe();
}

TEST(SweepVary, BadValueIsOneErrorLineNamingKeyAndValue) {
  fs::path root = test::temp_dir("vary-bad");
  std::ofstream(root / "r.toml") << "[model]\nd_model = 32\n";
  auto o = test::run_lab("sweep " + (root / "r.toml").string() + " -P " + test::plugin_dir() +
                         " --dry-run --vary model.n_heads=2,four,8");
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_EQ(o.output, "lab: error: --vary: model.n_heads: expected integer, found string \"four\"\n");
}

TEST(SweepVary, SweepPrintsOneLinePerRunWithTheEta) {
  fs::path root = test::temp_dir("vary-run");
  std::ofstream(root / "r.toml") << "# all keys from --set and --vary\n";
  const std::string sets =
      quoted_sets(test::plus(test::tiny_run(root, "v"), {"train.steps=2", "eval.every=2"}));
  auto o = test::run_lab("sweep " + (root / "r.toml").string() + " -P " + test::plugin_dir() + " --quiet" +
                         sets + " --vary model.d_model=16,32");
  ASSERT_EQ(o.code, 0) << o.output;
  EXPECT_TRUE(std::regex_search(
      o.output,
      std::regex(
          R"(\[1/2\] model.d_model-16 seed 42: training in .* \| 0 of 2 trained \| ETA after the first run\n)")))
      << o.output;
  EXPECT_TRUE(std::regex_search(
      o.output,
      std::regex(
          R"(\[2/2\] model.d_model-32 seed 42: training in .* \| 1 of 2 trained, \d+s elapsed \| ETA \d+s\n)")))
      << o.output;
  EXPECT_TRUE(fs::exists(root / "runs" / "tiny" / "model.d_model-32" / "seed-42" / "summary.json"));
}
