// `lab bench`: the figures it prints are consistent with each other and bad flags exit 2.
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

using lab::test::Outcome;
using lab::test::run_lab;

const std::string kTinyBench = std::string(LAB_TEST_DATA_DIR) +
                               "/recipes/base.toml --set model.n_layers=1 --set tokenizer.vocab_size=128 "
                               "--set train.batch_size=2 --steps 2 --warmup 1 --peak-size 128";

}  // namespace

TEST(MoEBench, JsonFiguresAreConsistent) {
  Outcome o = run_lab("bench " + kTinyBench + " --set router.plugin=deepseek --json", false);
  ASSERT_EQ(o.code, 0) << o.output;
  auto j = nlohmann::json::parse(o.output);
  EXPECT_EQ(j.at("data"), "random");
  EXPECT_EQ(j.at("batch_size"), 2);
  EXPECT_EQ(j.at("seq_len"), 32);
  EXPECT_EQ(j.at("timed_steps"), 2);
  const double tps = j.at("tokens_per_s"), flops = j.at("flops_per_token"), peak = j.at("peak_gflops");
  EXPECT_GT(tps, 0);
  EXPECT_GT(peak, 0);
  // One layer, d 64, d_ff 256, 4 experts top-2, vocab 128, seq 32: 6·N + 12·L·T·d.
  const double n = 128 * 64 + 4 * 64 * 64 + 4 * 64 + 2 * 3 * 64 * 256;
  EXPECT_DOUBLE_EQ(flops, 6 * n + 12 * 1 * 32 * 64);
  EXPECT_NEAR(j.at("attained_gflops").get<double>(), flops * tps / 1e9, 1e-9 * flops * tps);
  EXPECT_NEAR(j.at("mfu").get<double>(), j.at("attained_gflops").get<double>() / peak, 1e-12);
  EXPECT_NEAR(j.at("step_s_mean").get<double>(), 2.0 * 32 / tps, 1e-9);
  EXPECT_LE(j.at("step_s_min").get<double>(), j.at("step_s_mean").get<double>());
  EXPECT_GE(j.at("tokens_per_s_best_step").get<double>(), tps);
  EXPECT_NEAR(j.at("mfu_best_step").get<double>(),
              j.at("tokens_per_s_best_step").get<double>() * flops / 1e9 / peak, 1e-9);
  const auto& phase = j.at("phase_s");
  EXPECT_LE(phase.at("forward").get<double>() + phase.at("backward").get<double>() +
                phase.at("optimizer").get<double>(),
            j.at("step_s_mean").get<double>() * 1.0001);
  // Components: every part timed both ways (the router forward only), and together within the phases.
  const auto& parts = j.at("components_ms");
  double forward_parts = 0, backward_parts = 0;
  for (const char* name : {"attention", "moe", "head"}) {  // CPU fp32: the loss is fused into the head
    ASSERT_TRUE(parts.contains(name)) << name;
    EXPECT_GT(parts.at(name).at("forward").get<double>(), 0) << name;
    EXPECT_GT(parts.at(name).at("backward").get<double>(), 0) << name;
    forward_parts += parts.at(name).at("forward").get<double>();
    backward_parts += parts.at(name).at("backward").get<double>();
  }
  EXPECT_GT(parts.at("router").at("forward").get<double>(), 0);
  EXPECT_LT(parts.at("router").at("forward").get<double>(), parts.at("moe").at("forward").get<double>());
  EXPECT_LE(forward_parts, phase.at("forward").get<double>() * 1e3 * 1.0001);
  EXPECT_LE(backward_parts, phase.at("backward").get<double>() * 1e3 * 1.0001);
}

TEST(MoEBench, TablePrintsTokensPerSecondAndMfu) {
  Outcome o = run_lab("bench " + kTinyBench);
  ASSERT_EQ(o.code, 0) << o.output;
  for (const char* field : {"tokens/s", "model FLOPs/token", "GEMM peak", "MFU", "step profile",
                            "forward by part", "backward by part"})
    EXPECT_NE(o.output.find(field), std::string::npos) << field;
}

TEST(MoEBench, Bf16AutocastRunsOnCpu) {
  // The experts' bf16 outputs are summed back into the fp32 residual stream.
  Outcome o = run_lab("bench " + kTinyBench + " --precision bf16 --json", false);
  ASSERT_EQ(o.code, 0) << o.output;
  const auto j = nlohmann::json::parse(o.output);
  EXPECT_EQ(j.at("precision"), "bf16");
  EXPECT_GT(j.at("tokens_per_s").get<double>(), 0);
}

TEST(MoEBench, BadFlagsExitTwo) {
  EXPECT_EQ(run_lab("bench " + kTinyBench + " --data bogus").code, 2);
  EXPECT_EQ(run_lab("bench " + kTinyBench + " --precision fp8").code, 2);
  EXPECT_EQ(run_lab("bench " + kTinyBench + " --steps 0").code, 2);
  Outcome o = run_lab("bench");
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.output.find("RECIPE"), std::string::npos);
}

TEST(MoEBench, CorpusDataUsesTheRecipesDatasetAndTokenizer) {
  auto cache = lab::test::temp_dir("bench-tokenizer");
  Outcome o =
      run_lab("bench " + std::string(LAB_TEST_DATA_DIR) +
                  "/recipes/base.toml --data corpus --set data.path=" + std::string(LAB_TEST_DATA_DIR) +
                  "/tiny_brown --set tokenizer.vocab_size=400 --set tokenizer.cache_dir=" + cache.string() +
                  " --set model.n_layers=1 --set train.batch_size=2 --peak-size 128 --steps 1 "
                  "--warmup 0 --json",
              false);
  ASSERT_EQ(o.code, 0) << o.output;
  auto j = nlohmann::json::parse(o.output);
  EXPECT_EQ(j.at("data"), "corpus");
  EXPECT_EQ(j.at("vocab_size"), 400);  // the tokenizer trained on tiny_brown
  EXPECT_GT(j.at("tokens_per_s").get<double>(), 0);
  std::filesystem::remove_all(cache);
}
