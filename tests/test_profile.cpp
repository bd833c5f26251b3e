// `lab profile`: the table, profile.json and its figures, and one-line errors for bad flags.
#include "run/plots.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>

namespace {

lab::test::Outcome run_profile(const std::string& args) { return lab::test::run_lab("profile " + args); }

}  // namespace

TEST(Profile, WritesTableAndJsonAndFlash2HoldsLessThanMath) {
  const auto dir = lab::test::temp_dir("profile");
  const auto o = run_profile(
      "--seq-lens 33,256 --kernels math,flash2 --heads 2 --head-dim 16 --v-head-dim 8 "
      "--repeats 1 --option flash2.block_q=32 --option flash2.backward=split --out " +
      dir.string());
  ASSERT_EQ(o.code, 0) << o.output;
  EXPECT_NE(o.output.find("fwd+bwd ms"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("flash2          256"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("GEMM peak"), std::string::npos) << o.output;

  std::ifstream in(dir / "profile.json");
  const auto json = nlohmann::json::parse(in);
  EXPECT_EQ(json["shape"]["v_head_dim"], 8);
  EXPECT_GT(json["gemm_peak"]["gflops"].get<double>(), 0);
  ASSERT_EQ(json["rows"].size(), 4u);
  std::map<std::string, nlohmann::json> at256;
  for (const auto& row : json["rows"]) {
    ASSERT_FALSE(row.contains("error")) << row.dump();
    EXPECT_GT(row["forward_ms"].get<double>(), 0);
    EXPECT_GT(row["forward_backward_ms"].get<double>(), 0);
    EXPECT_GT(row["forward_gflops"].get<double>(), 0);
    EXPECT_GT(row["peak_mib"].get<double>(), 0);
    EXPECT_GT(row["forward_backward_share_of_gemm_peak"].get<double>(), 0);
    if (row["seq_len"] == 256) at256[row["kernel"].get<std::string>()] = row;
  }
  ASSERT_EQ(at256.size(), 2u);
  // math keeps the 2x256x256 probabilities (512 KiB and more); flash2 keeps O and the LSE (18 KiB).
  EXPECT_GT(at256["math"]["held_mib"].get<double>(), 0.5);
  EXPECT_LT(at256["flash2"]["held_mib"].get<double>(), 0.05);
  EXPECT_LT(at256["flash2"]["peak_mib"].get<double>(), at256["math"]["peak_mib"].get<double>());
  if (lab::gnuplot_available()) EXPECT_TRUE(std::filesystem::exists(dir / "profile.png"));
  std::filesystem::remove_all(dir);
}

TEST(Profile, SparsePluginIsTimedBesideTheDenseKernelsWithItsSpeedUp) {
  const auto dir = lab::test::temp_dir("profile-sparse");
  const auto o = run_profile(
      "--seq-lens 96,200 --kernels math --heads 2 --head-dim 16 --repeats 2 --sparse dsa --top-k 32 "
      "--option dsa.index_precision=fp8 --out " +
      dir.string());
  ASSERT_EQ(o.code, 0) << o.output;
  EXPECT_NE(o.output.find("dsa k=32"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("dsa k=32     vs math     T=200"), std::string::npos) << o.output;
  std::ifstream in(dir / "profile.json");
  const auto json = nlohmann::json::parse(in);
  ASSERT_EQ(json["rows"].size(), 4u);
  std::map<std::string, nlohmann::json> at200;
  for (const auto& row : json["rows"]) {
    ASSERT_FALSE(row.contains("error")) << row.dump();
    EXPECT_GE(row["forward_backward_spread"].get<double>(), 0);
    if (row["seq_len"] == 200) at200[row["kernel"].get<std::string>()] = row;
  }
  ASSERT_EQ(at200.size(), 2u);
  // Useful FLOPs: 32 keys per query after the first 32 queries, against all 200·201/2 causal pairs.
  const double dense_pairs = 200.0 * 201 / 2, sparse_pairs = 32.0 * 33 / 2 + 168.0 * 32;
  const auto& d = at200["math"];
  const auto& sp = at200["dsa k=32"];
  EXPECT_NEAR(sp["forward_gflops"].get<double>() * sp["forward_ms"].get<double>() /
                  (d["forward_gflops"].get<double>() * d["forward_ms"].get<double>()),
              sparse_pairs / dense_pairs, 1e-9);
  // Sparse attention keeps [B, H, T, k] probabilities, math the whole [B, H, T, T].
  EXPECT_LT(sp["held_mib"].get<double>(), d["held_mib"].get<double>() + 0.5);
  std::filesystem::remove_all(dir);
}

TEST(Profile, BadFlagsExitTwoWithOneLineAndWriteNothing) {
  const auto dir = lab::test::temp_dir("profile-bad") / "out";
  const std::map<std::string, std::string> cases = {
      {"--seq-lens 16,x", "'x'"},
      {"--kernels math,nope", "'nope'"},
      {"--dtype int8", "int8"},
      {"--heads 0", "--heads"},
      {"--kernels flash2 --option math.block_q=9", "neither in --kernels"},
      {"--option math.block_q=9", "no key 'block_q'"},
      {"--option flash2.tile=9", "no key 'tile'"},
      {"--option flash2.block_q=big", "'big'"},
      {"--option flash2.block_q=0", "must be in"},
      {"--option block_q", "PLUGIN.KEY=VALUE"},
      {"--sparse nope", "'nope'"},
      {"--sparse dsa --top-k 0", "--top-k"},
      {"--sparse dsa --option dsa.index_precision=fp4", "fp4"},
      {"--option dsa.top_k=4", "neither in --kernels"}};
  for (const auto& [flags, named] : cases) {
    const auto o = run_profile(flags + " --out " + dir.string());
    EXPECT_EQ(o.code, 2) << flags << ": " << o.output;
    EXPECT_NE(o.output.find(named), std::string::npos) << flags << ": " << o.output;
    EXPECT_FALSE(std::filesystem::exists(dir)) << flags;
  }
}
