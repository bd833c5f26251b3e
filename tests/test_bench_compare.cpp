// `lab bench --compare`: two models timed in interleaved rounds, their ratio, and the run split that
// makes it possible (one model built once, timed in several rounds).
#include "test_support.hpp"

#include "train/benchmark.hpp"

#include <lab/error.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

using lab::test::Outcome;
using lab::test::run_lab;

const std::string kBase = std::string(LAB_TEST_DATA_DIR) + "/recipes/base.toml";
const std::string kTinySets =
    " --set model.n_layers=1 --set tokenizer.vocab_size=128 --set train.batch_size=2";
// The same recipe with one more layer: a model that must come out slower and larger.
const std::string kCompare = " --compare " + kBase +
                             " --compare-set model.n_layers=2 --compare-set tokenizer.vocab_size=128 "
                             "--compare-set train.batch_size=2";
const std::string kShort = " --steps 2 --warmup 1 --peak-size 128";

}  // namespace

TEST(BenchCompare, JsonHoldsBothResultsAndTheRatioOfTheirMedians) {
  Outcome o = run_lab("bench " + kBase + kTinySets + kCompare + kShort + " --rounds 3 --json", false);
  ASSERT_EQ(o.code, 0) << o.output;
  const auto j = nlohmann::json::parse(o.output);
  EXPECT_EQ(j.at("rounds"), 3);
  EXPECT_EQ(j.at("steps_per_round"), 2);
  EXPECT_EQ(j.at("order"), "A B, B A, A B");
  EXPECT_EQ(j.at("gemm_peak").at("probes").size(), 4u);  // before the first round and after each
  EXPECT_GE(j.at("gemm_peak").at("spread").get<double>(), 0);
  const auto &a = j.at("a"), &b = j.at("b");
  for (const auto* side : {&a, &b}) {
    EXPECT_EQ(side->at("tokens_per_s_rounds").size(), 3u);
    EXPECT_EQ(side->at("timed_steps"), 6);
    EXPECT_GT(side->at("tokens_per_s_median").get<double>(), 0);
    EXPECT_GE(side->at("tokens_per_s_spread").get<double>(), 0);
    EXPECT_GT(side->at("mfu").get<double>(), 0);
    EXPECT_GT(side->at("peak_memory_mib").get<double>(), 0);
  }
  EXPECT_EQ(b.at("sets").size(), 3u);
  EXPECT_GT(b.at("parameters").get<int64_t>(), a.at("parameters").get<int64_t>());
  EXPECT_GT(b.at("peak_memory_mib").get<double>(), a.at("peak_memory_mib").get<double>());

  const auto& ratio = j.at("ratio");
  const double expected =
      b.at("tokens_per_s_median").get<double>() / a.at("tokens_per_s_median").get<double>();
  EXPECT_NEAR(ratio.at("tokens_per_s").get<double>(), expected, 1e-9 * expected);
  ASSERT_EQ(ratio.at("rounds").size(), 3u);
  for (size_t r = 0; r < 3; ++r) {
    const double round =
        b.at("tokens_per_s_rounds")[r].get<double>() / a.at("tokens_per_s_rounds")[r].get<double>();
    EXPECT_NEAR(ratio.at("rounds")[r].get<double>(), round, 1e-9 * round) << r;
    EXPECT_LE(ratio.at("round_min").get<double>(), round);
    EXPECT_GE(ratio.at("round_max").get<double>(), round);
  }
}

TEST(BenchCompare, TableNamesBothRecipesAndTheRatio) {
  Outcome o = run_lab("bench " + kBase + kTinySets + kCompare + kShort + " --rounds 2", false);
  ASSERT_EQ(o.code, 0) << o.output;
  for (const char* field : {"order A B, B A", "--compare-set model.n_layers=2", "tokens/s median", "B/A",
                            "GEMM peak", "peak MiB"})
    EXPECT_NE(o.output.find(field), std::string::npos) << field << "\n" << o.output;
}

TEST(BenchCompare, SingleRecipeReportsMedianAndSpread) {
  Outcome o = run_lab("bench " + kBase + kTinySets + " --steps 3 --warmup 1 --peak-size 128 --json", false);
  ASSERT_EQ(o.code, 0) << o.output;
  const auto j = nlohmann::json::parse(o.output);
  const double median = j.at("step_s_median"), spread = j.at("step_spread");
  EXPECT_GE(spread, 0);
  EXPECT_GE(median, j.at("step_s_min").get<double>());
  EXPECT_NEAR(j.at("tokens_per_s_median").get<double>(), 2.0 * 32 / median, 1e-9 * 2.0 * 32 / median);
}

TEST(BenchCompare, RoundsAlternateWhichModelGoesFirst) {
  EXPECT_EQ(lab::interleaved_order(3), (std::vector<int>{0, 1, 1, 0, 0, 1}));
  EXPECT_TRUE(lab::interleaved_order(0).empty());
  const auto order = lab::interleaved_order(4);
  int a_first = 0;
  for (size_t i = 0; i < order.size(); i += 2) {
    EXPECT_NE(order[i], order[i + 1]);  // every round times both
    a_first += order[i] == 0;
  }
  EXPECT_EQ(a_first, 2);
}

TEST(BenchCompare, MedianAndSpread) {
  const auto odd = lab::median_spread({3, 1, 2});
  EXPECT_DOUBLE_EQ(odd.median, 2);
  EXPECT_DOUBLE_EQ(odd.spread, 1);
  const auto even = lab::median_spread({4, 1, 2, 3});
  EXPECT_DOUBLE_EQ(even.median, 2.5);
  EXPECT_DOUBLE_EQ(even.spread, 3 / 2.5);
  EXPECT_DOUBLE_EQ(lab::median_spread({}).median, 0);
}

TEST(BenchCompare, RunIsTimedInSeveralRounds) {
  const lab::Config config = lab::test::make_config(
      {"model.d_model=32", "model.n_heads=4", "model.n_layers=1", "model.seq_len=16", "moe.experts=2",
       "moe.top_k=1", "tokenizer.vocab_size=64", "train.batch_size=2"});
  lab::BenchmarkOptions options;
  options.warmup_steps = 1;
  options.peak_size = 64;
  lab::BenchmarkRun run(config, options);
  EXPECT_EQ(run.time_steps(2).size(), 2u);
  EXPECT_EQ(run.time_steps(3).size(), 3u);
  const lab::BenchmarkResult r = run.result(run.measure_peak());
  EXPECT_EQ(r.steps, 5);  // every round counts; the warm-up does not
  EXPECT_DOUBLE_EQ(run.tokens_per_step(), 2.0 * 16);
  EXPECT_GE(r.step_seconds_median, r.step_seconds_min);
  EXPECT_GT(r.peak_gflops, 0);
  EXPECT_GT(r.mfu, 0);
  EXPECT_THROW(run.time_steps(0), lab::InputError);
}
