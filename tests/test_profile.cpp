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
  EXPECT_NE(o.output.find("flash2      256"), std::string::npos) << o.output;
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

TEST(Profile, BadFlagsExitTwoWithOneLineAndWriteNothing) {
  const auto dir = lab::test::temp_dir("profile-bad") / "out";
  const std::map<std::string, std::string> cases = {
      {"--seq-lens 16,x", "'x'"},
      {"--kernels math,nope", "'nope'"},
      {"--dtype int8", "int8"},
      {"--heads 0", "--heads"},
      {"--kernels flash2 --option math.block_q=9", "not in --kernels"},
      {"--option math.block_q=9", "no key 'block_q'"},
      {"--option flash2.tile=9", "no key 'tile'"},
      {"--option flash2.block_q=big", "'big'"},
      {"--option flash2.block_q=0", "must be in"},
      {"--option block_q", "KERNEL.KEY=VALUE"}};
  for (const auto& [flags, named] : cases) {
    const auto o = run_profile(flags + " --out " + dir.string());
    EXPECT_EQ(o.code, 2) << flags << ": " << o.output;
    EXPECT_NE(o.output.find(named), std::string::npos) << flags << ": " << o.output;
    EXPECT_FALSE(std::filesystem::exists(dir)) << flags;
  }
}
