// The lab program itself: exit codes and one-line messages for bad input.
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <array>
#include <cstdio>

namespace {

using lab::test::Outcome;
using lab::test::run_lab;

std::string recipe(const std::string& name) { return std::string(LAB_TEST_DATA_DIR) + "/recipes/" + name; }

}  // namespace

TEST(Cli, BadRecipeExitsTwoWithOneLinePerProblem) {
  Outcome o = run_lab("--recipe " + recipe("bad_shape.toml"));
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.output.find("lab: error: " + recipe("bad_shape.toml") + ":7: moe.top_k:"), std::string::npos)
      << o.output;
  EXPECT_NE(o.output.find("lab: error: " + recipe("bad_shape.toml") + ":2: model.d_model:"),
            std::string::npos)
      << o.output;
}

TEST(Cli, UnknownFlagCommandAndPluginExitTwo) {
  EXPECT_EQ(run_lab("--recipe " + recipe("base.toml") + " --bogus").code, 2);
  EXPECT_EQ(run_lab("frobnicate").code, 2);
  Outcome o = run_lab("plugins nope");
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.output.find("available: "), std::string::npos);
}

TEST(Cli, RefusedPluginLibraryOnThePathExitsTwoNamingIt) {
  Outcome o = run_lab("plugins --plugin-path " + std::string(LAB_TEST_FIXTURE_DIR) + "/bad_abi");
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.output.find("lab_plugin_bad_abi.so: plugin 'bad_abi' was built for plugin ABI"),
            std::string::npos)
      << o.output;
}

TEST(Cli, PluginsListsAndDescribes) {
  Outcome list = run_lab("plugins");
  EXPECT_EQ(list.code, 0);
  for (const char* name : {"mha", "math", "sdpa", "rope", "topk", "brown", "text", "jsonl"})
    EXPECT_NE(list.output.find(name), std::string::npos) << name;
  Outcome one = run_lab("plugins topk");
  EXPECT_EQ(one.code, 0);
  EXPECT_NE(one.output.find("noise_std"), std::string::npos);
  EXPECT_NE(one.output.find("0.1"), std::string::npos);
}

TEST(Cli, DryRunPrintsTheResolvedRecipe) {
  Outcome o = run_lab("--recipe " + recipe("child.toml") + " --dry-run --set train.lr=0.005");
  EXPECT_EQ(o.code, 0) << o.output;
  EXPECT_NE(o.output.find("d_model = 96"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("lr = 0.005"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("[[train.stages]]"), std::string::npos) << o.output;
}

TEST(Cli, ParamsPrintsCountsByRole) {
  Outcome o =
      run_lab("params " + recipe("base.toml") +
              " --set attention.plugin=mla --set attention.kv_lora_rank=8 --set attention.q_lora_rank=8");
  ASSERT_EQ(o.code, 0) << o.output;
  for (const char* row : {"total", "active per token", "attention.q_a_proj", "attention.kv_b_proj", "norms"})
    EXPECT_NE(o.output.find(row), std::string::npos) << row << "\n" << o.output;
  EXPECT_EQ(run_lab("params").code, 2);
  EXPECT_EQ(
      run_lab("params " + recipe("base.toml") + " --set attention.plugin=mla --set attention.kv_lora_rank=0")
          .code,
      2);
}
