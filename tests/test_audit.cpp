// lab audit through the real program: the causality probe fails a leaky kernel on both checks and
// passes every built-in plugin, the data audit flags validation text that is training text and
// recipes that loop over their data, and training records both for lab compare.
#include "run/files.hpp"
#include "test_support.hpp"
#include "tiny_run.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <random>
#include <set>

using namespace lab;
using lab::test::plus;
using lab::test::run_lab;
using lab::test::tiny_run;
namespace fs = std::filesystem;

namespace {

const std::string kBase = std::string(LAB_TEST_DATA_DIR) + "/recipes/base.toml";
const std::string kLeakyDir = std::string(LAB_TEST_FIXTURE_DIR) + "/leaky";

std::string sets(const std::vector<std::string>& assignments) {
  std::string out;
  for (const auto& a : assignments) out += " --set '" + a + "'";
  return out;
}

// Runs lab and parses its stdout as JSON (stderr discarded).
nlohmann::json lab_json(const std::string& args, int expected_code) {
  auto o = run_lab(args + " --json", false);
  EXPECT_EQ(o.code, expected_code) << args << "\n" << o.output;
  return nlohmann::json::parse(o.output);
}

const nlohmann::json& verdict(const nlohmann::json& audit, const std::string& slot,
                              const std::string& mode = "") {
  for (const auto& v : audit["exact"])
    if (v["slot"] == slot && v["mode"] == mode) return v;
  throw std::runtime_error("no verdict for " + slot + " [" + mode + "]");
}

// Documents of random words, each written twice under two names when `duplicated`.
fs::path word_corpus(const std::string& name, bool duplicated) {
  fs::path dir = test::temp_dir(name);
  const std::vector<std::string> words = {"stone", "river", "lamp",  "orbit", "cedar", "flint", "maple",
                                          "quill", "ember", "tidal", "moss",  "pearl", "sable", "thorn"};
  std::mt19937 rng(11);
  for (int doc = 0; doc < 24; ++doc) {
    std::string text;
    for (int w = 0; w < 400; ++w) text += words[rng() % words.size()] + (w % 12 == 11 ? ".\n" : " ");
    std::ofstream(dir / ("doc" + std::to_string(doc) + ".txt")) << text;
    if (duplicated) std::ofstream(dir / ("copy" + std::to_string(doc) + ".txt")) << text;
  }
  return dir;
}

std::vector<std::string> data_recipe(const fs::path& corpus, const fs::path& root) {
  return {"data.plugin=text",
          "data.path=\"" + corpus.string() + "\"",
          "data.val_fraction=0.25",
          "tokenizer.vocab_size=320",
          "tokenizer.cache_dir=\"" + (root / "cache").string() + "\"",
          "model.seq_len=32",
          "train.batch_size=8",
          "train.stages.0.steps=20"};
}

}  // namespace

TEST(AuditCausality, LeakyKernelFailsTheExactAndTheLearningCheck) {
  auto audit = lab_json("audit causality --recipe " + kBase + " --plugin-path " + kLeakyDir + " --steps 100" +
                            sets({"kernel.plugin=leaky", "model.d_model=32"}),
                        1);
  EXPECT_FALSE(audit["passed"].get<bool>());
  EXPECT_TRUE(verdict(audit, "attention")["passed"].get<bool>());
  const auto& kernel = verdict(audit, "kernel");
  EXPECT_EQ(kernel["plugin"], "leaky");
  EXPECT_FALSE(kernel["passed"].get<bool>());
  EXPECT_GT(kernel["failures"][0]["change"].get<double>(), 1e-2);
  EXPECT_FALSE(verdict(audit, "model")["passed"].get<bool>());
  ASSERT_EQ(audit["learning"].size(), 1u);
  const auto& learning = audit["learning"][0];
  EXPECT_FALSE(learning["passed"].get<bool>());
  // It learns to copy the next token: far below the uniform entropy.
  EXPECT_LT(learning["val_loss"].get<double>(), learning["ln_vocab"].get<double>() - 1.0);
}

TEST(AuditCausality, SelectorThatSeesTheNextKeyFailsTheSparseSlot) {
  auto audit =
      lab_json("audit causality --recipe " + kBase + " --steps 100 --plugin-path " +
                   std::string(LAB_TEST_FIXTURE_DIR) + "/peeking" +
                   sets({"sparse.plugin=peeking_selector", "kernel.plugin=math", "model.d_model=32"}),
               1);
  EXPECT_FALSE(verdict(audit, "sparse")["passed"].get<bool>());
  EXPECT_TRUE(verdict(audit, "kernel")["passed"].get<bool>());
  EXPECT_FALSE(verdict(audit, "model")["passed"].get<bool>());
  EXPECT_FALSE(audit["learning"][0]["passed"].get<bool>());
}

TEST(AuditCausality, TextReportsEachPluginAndExitsOneOnFailure) {
  auto o = run_lab("audit causality " + kBase + " --exact-only --plugin-path " + kLeakyDir +
                   sets({"kernel.plugin=leaky"}));
  EXPECT_EQ(o.code, 1) << o.output;
  EXPECT_NE(o.output.find("kernel     leaky                    FAIL"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("attention  mha                      PASS"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("causality: FAIL"), std::string::npos) << o.output;
}

TEST(AuditCausality, CleanModelStaysAtTheUniformEntropy) {
  auto audit = lab_json("audit causality --recipe " + kBase + " --steps 100" +
                            sets({"kernel.plugin=math", "model.d_model=32", "model.n_layers=1"}),
                        0);
  const auto& learning = audit["learning"][0];
  EXPECT_TRUE(learning["passed"].get<bool>());
  EXPECT_NEAR(learning["val_loss"].get<double>(), std::log(32.0), 0.05);
  EXPECT_LT(learning["val_loss_se"].get<double>(), 0.01);  // the margin is many standard errors
}

TEST(AuditCausality, EveryBuiltInPluginPassesTheExactCheck) {
  // Four recipes that together use every built-in attention, kernel, rope, router and sparse plugin.
  const std::vector<std::vector<std::string>> recipes = {
      {"attention.plugin=mha", "kernel.plugin=math", "rope.plugin=rope", "router.plugin=topk"},
      {"attention.plugin=mla", "attention.kv_lora_rank=32", "attention.q_lora_rank=16",
       "kernel.plugin=flash2", "rope.plugin=yarn", "router.plugin=deepseek"},
      {"attention.plugin=mixed_heads", "kernel.plugin=sdpa", "rope.plugin=rope_ntk", "router.plugin=topk"},
      {"attention.plugin=mha", "kernel.plugin=sdpa", "rope.plugin=rope_linear", "router.plugin=deepseek",
       "sparse.plugin=dsa", "sparse.top_k=8", "sparse.index_dim=16", "sparse.index_rope_dim=8",
       "train.stages.0.mode=warmup", "train.stages.1.steps=5", "train.stages.1.mode=sparse"},
  };
  std::set<std::string> probed, sparse_modes;
  for (const auto& recipe : recipes) {
    auto audit = lab_json("audit causality --recipe " + kBase + " --exact-only" + sets(recipe), 0);
    for (const auto& v : audit["exact"]) {
      EXPECT_TRUE(v["passed"].get<bool>()) << v.dump(2);
      EXPECT_GT(v["probes"].get<int64_t>(), 0);
      probed.insert(v["slot"].get<std::string>() + "." + v["plugin"].get<std::string>());
      if (v["slot"] == "sparse") sparse_modes.insert(v["mode"].get<std::string>());
    }
  }
  for (const char* plugin : {"attention.mha", "attention.mla", "attention.mixed_heads", "kernel.math",
                             "kernel.sdpa", "kernel.flash2", "rope.rope", "rope.rope_linear", "rope.rope_ntk",
                             "rope.yarn", "router.topk", "router.deepseek", "sparse.dsa"})
    EXPECT_TRUE(probed.count(plugin)) << plugin;
  EXPECT_EQ(sparse_modes, (std::set<std::string>{"warmup", "sparse"}));
}

TEST(AuditCausality, RunFolderGetsAuditJsonThatCompareReads) {
  fs::path root = test::temp_dir("audit-run");
  const auto base = plus(tiny_run(root, "clean"), {"train.steps=4", "eval.max_batches=1"});
  ASSERT_EQ(run_lab("--recipe " + kBase + sets(base), false).code, 0);
  auto leaky = run_lab(
      "--recipe " + kBase + " --plugin-path " + kLeakyDir +
      sets(plus(tiny_run(root, "leaky"), {"train.steps=4", "eval.max_batches=1", "kernel.plugin=leaky"})));
  ASSERT_EQ(leaky.code, 0) << leaky.output;
  EXPECT_NE(leaky.output.find("lab: warning: causality probe FAILED (kernel leaky"), std::string::npos)
      << leaky.output;
  const fs::path clean_dir = root / "runs" / "tiny" / "clean" / "seed-42";
  const auto summary = read_json(clean_dir / "summary.json");
  EXPECT_EQ(summary["audit"]["causality"]["exact"], "pass");
  EXPECT_EQ(read_json(root / "runs/tiny/leaky/seed-42/summary.json")["audit"]["causality"]["exact"], "fail");
  EXPECT_GT(summary["audit"]["data"]["epochs"].get<double>(), 0);

  auto md = run_lab("compare " + (root / "runs").string(), false).output;
  EXPECT_NE(md.find("| epochs | audit |"), std::string::npos) << md;
  EXPECT_NE(md.find("| pass (exact only) |"), std::string::npos) << md;
  EXPECT_NE(md.find("**FAIL**"), std::string::npos) << md;
  EXPECT_NE(md.find("- **leaky** (FAIL); causality check failed: kernel leaky"), std::string::npos) << md;

  auto o = run_lab("audit causality " + clean_dir.string() + " --exact-only");
  EXPECT_EQ(o.code, 0) << o.output;
  EXPECT_NE(o.output.find("trained    run weights"), std::string::npos) << o.output;
  ASSERT_TRUE(fs::exists(clean_dir / "audit.json"));
  EXPECT_TRUE(read_json(clean_dir / "audit.json")["causality"]["passed"].get<bool>());
}

TEST(AuditData, ValidationDocumentsCopiedIntoTrainingAreFlagged) {
  fs::path root = test::temp_dir("audit-dup");
  auto audit =
      lab_json("audit data --recipe " + kBase + sets(data_recipe(word_corpus("dup-corpus", true), root)), 1);
  EXPECT_GT(audit["duplicate_val_documents"].get<int64_t>(), 0);
  EXPECT_TRUE(audit["ngram_overlap"]["13"]["flagged"].get<bool>());
  EXPECT_GT(audit["ngram_overlap"]["13"]["val_in_train"].get<double>(), 0.5);

  auto o = run_lab("audit data --recipe " + kBase + sets(data_recipe(word_corpus("dup-corpus", true), root)));
  EXPECT_NE(o.output.find("validation documents are exact copies of training documents"), std::string::npos)
      << o.output;
}

TEST(AuditData, CleanSplitPassesAndHundredEpochsAreFlagged) {
  fs::path root = test::temp_dir("audit-clean");
  const auto recipe = data_recipe(word_corpus("clean-corpus", false), root);
  auto clean = lab_json("audit data --recipe " + kBase + sets(recipe), 0);
  EXPECT_EQ(clean["duplicate_val_documents"].get<int64_t>(), 0);
  EXPECT_FALSE(clean["ngram_overlap"]["8"]["flagged"].get<bool>());
  const double train_tokens = clean["train_tokens"].get<double>();
  const double epochs = 20.0 * 8 * 32 / train_tokens;
  EXPECT_NEAR(clean["epochs"].get<double>(), epochs, 1e-9);
  ASSERT_LT(epochs, 5);

  const int64_t steps = static_cast<int64_t>(std::ceil(100 * train_tokens / (8 * 32)));
  auto looping = lab_json(
      "audit data --recipe " + kBase + sets(plus(recipe, {"train.stages.0.steps=" + std::to_string(steps)})),
      1);
  EXPECT_NEAR(looping["epochs"].get<double>(), 100, 1);
  ASSERT_EQ(looping["warnings"].size(), 1u);
  EXPECT_NE(looping["warnings"][0].get<std::string>().find("passes over the training tokens"),
            std::string::npos);
}

TEST(AuditData, TrainingWarnsAndRecordsTheDataAudit) {
  fs::path root = test::temp_dir("audit-train-dup");
  auto recipe = plus(data_recipe(word_corpus("dup-train", true), root),
                     {"run.dir=\"" + (root / "runs").string() + "\"", "model.d_model=32", "model.n_layers=1",
                      "train.stages.0.steps=2", "eval.max_batches=1", "kernel.plugin=math"});
  auto o = run_lab("--recipe " + kBase + sets(recipe));
  ASSERT_EQ(o.code, 0) << o.output;
  EXPECT_NE(o.output.find("lab: warning: data audit:"), std::string::npos) << o.output;
  auto summary = read_json(root / "runs/unit/baseline/seed-42/summary.json");
  EXPECT_EQ(summary["audit"]["data"]["status"], "warn");
  EXPECT_GT(summary["audit"]["data"]["duplicate_val_documents"].get<int64_t>(), 0);
}
