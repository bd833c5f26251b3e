// The dsa plugin's two training stages: what each loss may move, and a warm-up run end to end.
#include "model/model.hpp"
#include "test_support.hpp"
#include "tiny_run.hpp"
#include "train/checkpoint.hpp"
#include "train/trainer.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <random>

using namespace lab;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kDsaModel = {
    "model.d_model=32",       "model.n_heads=4", "model.n_layers=2",     "model.seq_len=32",
    "moe.experts=2",          "moe.top_k=1",     "moe.d_ff=48",          "kernel.plugin=math",
    "sparse.plugin=dsa",      "sparse.top_k=8",  "sparse.index_heads=2", "sparse.index_dim=16",
    "sparse.index_rope_dim=8"};

std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Which parameter groups receive a non-zero gradient from `loss`.
std::set<std::string> groups_reached(LanguageModel& model, const torch::Tensor& loss) {
  for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
  loss.backward({}, /*retain_graph=*/true);
  std::set<std::string> groups;
  for (const auto& p : model->named_parameters())
    if (p.value().grad().defined() && p.value().grad().abs().sum().item<double>() > 0)
      groups.insert(parameter_group(p.key()));
  return groups;
}

void expect_losses_disjoint(const std::string& mode, bool lm_reaches_main) {
  Config c = test::make_config(plus(kDsaModel, {"tokenizer.vocab_size=97"}));
  c.dims.vocab_size = 97;
  torch::manual_seed(0);
  LanguageModel model(c);
  model->initialize(0.02);
  model->train();
  model->set_sparse_mode(mode);
  ForwardState state;
  auto tokens = torch::randint(97, {2, 32});
  auto logits = model->forward(tokens, state);
  auto lm = torch::nn::functional::cross_entropy(logits.reshape({-1, 97}), torch::randint(97, {64}));
  torch::Tensor indexer_loss;
  int layers = 0;
  for (const auto& [name, loss] : state.aux_losses)
    if (name.rfind("dsa/", 0) == 0) {
      indexer_loss = indexer_loss.defined() ? indexer_loss + loss : loss;
      ++layers;
    }
  ASSERT_EQ(layers, 2) << "one indexer loss per layer";
  EXPECT_EQ(groups_reached(model, indexer_loss), std::set<std::string>{"sparse"}) << mode;
  auto lm_groups = groups_reached(model, lm);
  EXPECT_EQ(lm_groups.count("sparse"), 0u) << mode << ": the LM loss reached the indexer";
  EXPECT_EQ(lm_groups.count("attention") == 1, lm_reaches_main) << mode;
}

// A small corpus of template sentences (learnable structure).
fs::path corpus_dir() {
  static fs::path dir = [] {
    fs::path d = test::temp_dir("dsa-corpus");
    const std::vector<std::string> words = {"the",   "a",     "river", "engine", "garden", "opens",
                                            "finds", "small", "green", "letter", "window", "builds"};
    std::mt19937 rng(3);
    for (int doc = 0; doc < 30; ++doc) {
      std::ofstream out(d / ("doc" + std::to_string(doc) + ".txt"));
      for (int s = 0; s < 40; ++s) {
        for (int w = 0; w < 6; ++w) out << words[(rng() % 3) * 4 + w % 4] << " ";
        out << ".\n";
      }
    }
    return d;
  }();
  return dir;
}

}  // namespace

TEST(DsaStages, WarmupIndexerLossMovesOnlyTheIndexer) { expect_losses_disjoint("warmup", true); }

TEST(DsaStages, SparseIndexerLossSendsNoGradientIntoTheMainModel) { expect_losses_disjoint("sparse", true); }

TEST(DsaStages, WarmupStageChangesOnlyIndexerParametersAndLogsStatistics) {
  fs::path root = test::temp_dir("dsa-stages");
  Config c = test::make_config(
      plus(kDsaModel,
           {"data.plugin=text", "data.path=\"" + corpus_dir().string() + "\"", "tokenizer.vocab_size=320",
            "tokenizer.cache_dir=\"" + (root / "cache").string() + "\"",
            "run.dir=\"" + (root / "runs").string() + "\"", "experiment.name=dsa", "train.batch_size=4",
            "train.threads=2", "eval.max_batches=2", "eval.every=3", "train.stages.0.name=\"warmup\"",
            "train.stages.0.steps=3", "train.stages.0.lr=0.01", "train.stages.0.groups=[\"sparse\"]",
            "train.stages.0.mode=\"warmup\"", "train.stages.1.steps=2", "train.stages.1.mode=\"sparse\""}));
  TrainOptions stop;
  stop.quiet = true;
  stop.stop_after = 3;
  ASSERT_FALSE(train(c, stop).finished);
  int moved_indexer = 0;
  for (const auto& [name, moved] : test::parameters_moved(c, 320)) {
    if (parameter_group(name) == "sparse")
      moved_indexer += moved ? 1 : 0;
    else
      EXPECT_FALSE(moved) << name << " moved during the warm-up";
  }
  EXPECT_GT(moved_indexer, 0);
  std::ifstream metrics(run_directory(c) / "metrics.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(metrics, line));
  auto json = nlohmann::json::parse(line);
  EXPECT_TRUE(json["aux_losses"].contains("dsa/layer1/indexer_kl"));
  for (const char* key : {"recall", "sparsity", "distance_mean", "distance_std"}) {
    ASSERT_TRUE(json["stats"].contains(std::string("dsa/layer0/") + key)) << key;
  }
  const double recall = json["stats"]["dsa/layer0/recall"];
  EXPECT_GT(recall, 0.0);
  EXPECT_LE(recall, 1.0 + 1e-9);
}

// bf16 autocast on CPU through the real program: the indexer's key norm and its selection (worker
// threads inherit autocast) once failed with LibTorch's "expected scalar type" text.
TEST(DsaTraining, BenchesInBf16AutocastOnCpu) {
  const std::string recipe = std::string(LAB_TEST_DATA_DIR) + "/recipes/base.toml";
  std::string sets;
  for (const auto& s : kDsaModel) sets += " --set " + s;
  const lab::test::Outcome o = lab::test::run_lab(
      "bench " + recipe + sets + " --precision bf16 --steps 2 --warmup 1 --peak-size 128 --json", false);
  if (o.code == 2 && o.output.find("bf16") != std::string::npos)
    GTEST_SKIP() << "this processor has no bf16 path: " << o.output;
  ASSERT_EQ(o.code, 0) << o.output;
  const auto j = nlohmann::json::parse(o.output);
  EXPECT_GT(j.at("tokens_per_s").get<double>(), 0) << o.output;
}
