// DeepSeek's own MLA and RoPE outputs (tests/data/golden) reproduced by the mla and RoPE plugins.
#include "parity/parity.hpp"
#include "test_support.hpp"
#include "util/safetensors.hpp"

#include <lab/error.hpp>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

using namespace lab;
namespace fs = std::filesystem;

namespace {

fs::path golden(const std::string& name) {
  return fs::path(LAB_TEST_DATA_DIR) / "golden" / (name + ".safetensors");
}

class GoldenCase : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(GoldenCase, MatchesDeepSeekWithinOneInHundredThousand) {
  ParityReport report = check_parity(golden(GetParam()), test::registry());
  ASSERT_EQ(report.errors.size(), 5u) << report.describe();  // output, probs, cos, sin, scale
  for (const auto& e : report.errors) EXPECT_LE(e.max_abs_error, 1e-5) << e.name << "\n" << report.describe();
  EXPECT_TRUE(report.passed());
  std::cout << report.describe();
}

INSTANTIATE_TEST_SUITE_P(Parity, GoldenCase,
                         ::testing::Values("mla_no_qlora_bias", "mla_qlora_mixed_heads",
                                           "mla_rope_dynamic_ntk", "mla_rope_linear", "mla_rope_yarn"));

TEST(Parity, PicksTheScalingPluginFromTheCase) {
  EXPECT_EQ(check_parity(golden("mla_rope_yarn"), test::registry()).rope, "yarn");
  EXPECT_EQ(check_parity(golden("mla_rope_dynamic_ntk"), test::registry()).rope, "rope_ntk");
  EXPECT_EQ(check_parity(golden("mla_rope_linear"), test::registry()).rope, "rope_linear");
  EXPECT_EQ(check_parity(golden("mla_no_qlora_bias"), test::registry()).rope, "rope");
}

TEST(Parity, DetectsAWrongPlugin) {
  // Plain RoPE instead of YaRN: the tables and the output must both disagree.
  fs::path dir = test::temp_dir("parity-wrong");
  SafeTensors yarn = read_safetensors(golden("mla_rope_yarn"));
  auto c = nlohmann::json::parse(yarn.metadata["case"]);
  c["rope_scaling"] = nullptr;
  yarn.metadata["case"] = c.dump();
  write_safetensors(dir / "plain.safetensors", yarn.tensors, yarn.metadata);
  ParityReport report = check_parity(dir / "plain.safetensors", test::registry());
  EXPECT_FALSE(report.passed());
  EXPECT_GT(report.errors[0].max_abs_error, 1e-4);
  EXPECT_NE(report.describe().find("ABOVE TOLERANCE"), std::string::npos);
}

TEST(Parity, RefusesFilesThatDoNotFitThePlugin) {
  fs::path dir = test::temp_dir("parity-bad");
  SafeTensors base = read_safetensors(golden("mla_no_qlora_bias"));
  auto expect_error = [&](SafeTensors t, const std::string& fragment) {
    write_safetensors(dir / "case.safetensors", t.tensors, t.metadata);
    try {
      check_parity(dir / "case.safetensors", test::registry());
      ADD_FAILURE() << "expected an error containing " << fragment;
    } catch (const InputError& err) {
      EXPECT_NE(std::string(err.what()).find(fragment), std::string::npos) << err.what();
    }
  };
  SafeTensors missing = base;
  missing.tensors.erase("param.o_proj.bias");
  expect_error(missing, "no values for parameters o_proj.bias");
  SafeTensors odd = base;
  auto c = nlohmann::json::parse(odd.metadata["case"]);
  c["qk_rope_head_dim"] = 7;
  odd.metadata["case"] = c.dump();
  expect_error(odd, "attention.qk_rope_head_dim: must be even");
  SafeTensors no_case = base;
  no_case.metadata.clear();
  expect_error(no_case, "no 'case' entry");
  SafeTensors unknown = base;
  c = nlohmann::json::parse(unknown.metadata["case"]);
  c["rope_scaling"] = {{"type", "longrope"}};
  unknown.metadata["case"] = c.dump();
  expect_error(unknown, "unknown rope_scaling type 'longrope'");
}
