// Reopening a trained run folder gives back the model that was evaluated at the end of training.
#include "eval/evaluate.hpp"
#include "eval/length_eval.hpp"
#include "run/load_run.hpp"
#include "test_support.hpp"
#include "tiny_run.hpp"
#include "train/trainer.hpp"

#include <lab/error.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

using namespace lab;
namespace fs = std::filesystem;

TEST(LoadRun, ReproducesTheFinalEvaluation) {
  fs::path root = test::temp_dir("load-run");
  Config c = test::make_config(test::plus(test::tiny_run(root, "reload"), {"train.steps=6", "eval.every=6"}));
  TrainOptions quiet;
  quiet.quiet = true;
  RunResult result = train(c, quiet);
  ASSERT_TRUE(result.finished);

  LoadedRun run = load_run(result.run_dir, {{}, {test::plugin_dir()}});
  EXPECT_EQ(run.config.dims.d_model, 32);
  Corpus corpus = load_run_corpus(run);
  EvalResult again = evaluate(run.model, corpus.held_out(), run.config.dims.seq_len,
                              run.config.eval.batch_size, run.config.eval.max_batches, torch::kCPU);
  std::ifstream in(result.run_dir / "summary.json");
  auto summary = nlohmann::json::parse(in);
  EXPECT_NEAR(again.loss, summary["final"]["val_loss"].get<double>(), 1e-5);
  EXPECT_TRUE(fs::path(summary["recipe"].get<std::string>()).is_absolute());

  // Overrides are laid over the run's recipe, e.g. another evaluation length.
  LoadedRun longer = load_run(result.run_dir, {{"model.seq_len=48"}, {test::plugin_dir()}});
  EXPECT_EQ(longer.config.dims.seq_len, 48);

  // Evaluation at other lengths: the training length reproduces the run's own figure.
  auto lengths = evaluate_at_lengths(run, {32, 64});
  ASSERT_EQ(lengths.size(), 2u);
  EXPECT_NEAR(lengths[0].result.loss, again.loss, 1e-9);
  EXPECT_TRUE(std::isfinite(lengths[1].result.loss));
  std::ifstream written(result.run_dir / "eval" / "seq_len-64.json");
  auto j = nlohmann::json::parse(written);
  EXPECT_EQ(j["seq_len"], 64);
  EXPECT_EQ(j["train_seq_len"], 32);
  EXPECT_NEAR(j["val_loss"].get<double>(), lengths[1].result.loss, 1e-12);

  // The same through the program, and its refusals.
  const std::string dir = result.run_dir.string();
  test::Outcome ok = test::run_lab("eval " + dir + " --seq-len 48 --plugin-path " + test::plugin_dir());
  EXPECT_EQ(ok.code, 0) << ok.output;
  EXPECT_NE(ok.output.find("      48"), std::string::npos) << ok.output;
  EXPECT_TRUE(fs::exists(result.run_dir / "eval" / "seq_len-48.json"));
  test::Outcome bad = test::run_lab("eval " + dir + " --seq-len 48,x");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.output.find("'x' is not a whole number"), std::string::npos) << bad.output;
  // Longer than the validation split: named as such; beyond any model's reach: refused by its bound.
  test::Outcome too_long = test::run_lab("eval " + dir + " --seq-len 1000000");
  EXPECT_EQ(too_long.code, 2);
  EXPECT_NE(too_long.output.find("too few for one window"), std::string::npos) << too_long.output;
  test::Outcome absurd = test::run_lab("eval " + dir + " --seq-len 10000000");
  EXPECT_EQ(absurd.code, 2);
  EXPECT_NE(absurd.output.find("outside 2..1048576"), std::string::npos) << absurd.output;
}

TEST(LoadRun, RefusesFoldersThatAreNotRuns) {
  fs::path root = test::temp_dir("load-run-bad");
  EXPECT_THROW(load_run(root / "missing"), InputError);
  try {
    load_run(root);
    FAIL() << "expected an InputError";
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("not a run folder"), std::string::npos);
  }
}
