// lab visualize on a trained sparse run: pictures and statistics, and clear refusals.
#include "run/plots.hpp"
#include "test_support.hpp"
#include "tiny_run.hpp"
#include "train/trainer.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

using namespace lab;
namespace fs = std::filesystem;

TEST(Visualize, DrawsASparseRunAndReportsItsSparsity) {
  fs::path root = test::temp_dir("visualize");
  Config c = test::make_config(
      test::plus(test::tiny_run(root, "dsa"),
                 {"train.steps=3", "eval.every=3", "sparse.plugin=dsa", "sparse.top_k=8",
                  "sparse.index_heads=2", "sparse.index_dim=16", "sparse.index_rope_dim=8"}));
  TrainOptions quiet;
  quiet.quiet = true;
  RunResult run = train(c, quiet);
  ASSERT_TRUE(run.finished);
  const std::string dir = run.run_dir.string(), path = " --plugin-path " + test::plugin_dir();
  test::Outcome o = test::run_lab("visualize " + dir + " --layer 1 --seq-len 32" + path);
  ASSERT_EQ(o.code, 0) << o.output;
  std::ifstream in(run.run_dir / "plots" / "attention_layer1.json");
  auto stats = nlohmann::json::parse(in);
  // 32 queries, top_k 8: queries 0..7 keep every earlier key (36 pairs), the other 24 keep 8 each.
  EXPECT_EQ(stats["selected_keys"].get<double>(), 36 + 24 * 8);
  EXPECT_NEAR(stats["sparsity"].get<double>(), 1.0 - (36.0 + 24 * 8) / (32 * 33 / 2), 1e-12);
  EXPECT_GE(stats["distance_mean"].get<double>(), 0.0);
  EXPECT_LE(stats["distance_mean"].get<double>(), 31.0);
  if (gnuplot_available())
    for (const char* png :
         {"attention_layer1.png", "indexer_heads_layer1.png", "attention_distance_layer1.png"})
      EXPECT_GT(fs::file_size(run.run_dir / "plots" / png), 1000u) << png;

  EXPECT_EQ(test::run_lab("visualize " + dir + " --layer 2" + path).code, 2);
  EXPECT_EQ(test::run_lab("visualize " + dir + " --seq-len 64" + path).code, 2);
}

TEST(Visualize, RefusesARunWithoutASparsePlugin) {
  fs::path root = test::temp_dir("visualize-dense");
  Config c = test::make_config(test::plus(test::tiny_run(root, "dense"), {"train.steps=2", "eval.every=2"}));
  TrainOptions quiet;
  quiet.quiet = true;
  RunResult run = train(c, quiet);
  test::Outcome o =
      test::run_lab("visualize " + run.run_dir.string() + " --plugin-path " + test::plugin_dir());
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.output.find("no sparse plugin"), std::string::npos) << o.output;
}
