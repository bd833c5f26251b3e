// End to end: a tiny run whose loss falls, resume equivalence, stages, the split, run-folder safety.
#include "data/corpus.hpp"
#include "model/model.hpp"
#include "run/files.hpp"
#include "test_support.hpp"
#include "tiny_run.hpp"
#include "train/checkpoint.hpp"
#include "train/trainer.hpp"

#include <lab/error.hpp>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <random>
#include <set>

using namespace lab;
using lab::test::plus;
using lab::test::synthetic_corpus;
using lab::test::tiny_run;
namespace fs = std::filesystem;

namespace {

TrainOptions quiet() {
  TrainOptions o;
  o.quiet = true;
  return o;
}

}  // namespace

TEST(Training, TinyRunLossFallsAndFillsTheRunFolder) {
  fs::path root = test::temp_dir("e2e");
  Config c = test::make_config(plus(tiny_run(root, "base"), {"train.steps=40", "eval.every=10"}));
  RunResult r = train(c, quiet());
  ASSERT_TRUE(r.finished);
  auto lines = read_json_lines(r.run_dir / "metrics.jsonl");
  ASSERT_EQ(lines.size(), 4u);
  double first = lines.front()["val_loss"], last = lines.back()["val_loss"];
  EXPECT_LT(last, first - 0.3) << first << " -> " << last;
  auto summary = read_json(r.run_dir / "summary.json");
  EXPECT_LT(summary["final"]["val_loss"].get<double>(),
            std::log(summary["data"]["vocab_size"].get<double>()));
  EXPECT_GT(summary["val_unigram_entropy"].get<double>(), 1.0);
  EXPECT_GT(summary["parameters"]["total"].get<int64_t>(),
            summary["parameters"]["active_per_token"].get<int64_t>());
  EXPECT_GT(summary["parameters"]["by_component"]["attention.q_proj"].get<int64_t>(), 0);
  EXPECT_GT(summary["tokens_per_s"].get<double>(), 0);
  EXPECT_EQ(summary["steps"].get<int64_t>(), 40);
  EXPECT_TRUE(fs::exists(r.run_dir / "recipe.resolved.toml"));
  EXPECT_TRUE(fs::exists(r.run_dir / "checkpoint" / "model.pt"));
  EXPECT_GT(fs::file_size(r.run_dir / "plots" / "training_curves.png"), 1000u);
  // Accuracy is a share; perplexity is exp(loss).
  EXPECT_NEAR(lines.back()["val_perplexity"].get<double>(), std::exp(last), 1e-6 * std::exp(last));
  EXPECT_GT(lines.back()["val_accuracy"].get<double>(), 0.0);
  EXPECT_LT(lines.back()["val_accuracy"].get<double>(), 1.0);
}

TEST(Training, ResumeAfterAStopGivesTheSameLossesAsAnUninterruptedRun) {
  fs::path root = test::temp_dir("resume");
  auto common = plus(tiny_run(root, "x"), {"train.steps=20", "eval.every=5", "model.dropout=0.1"});
  Config full = test::make_config(plus(common, {"experiment.variant=full"}));
  ASSERT_TRUE(train(full, quiet()).finished);

  Config split = test::make_config(plus(common, {"experiment.variant=split"}));
  TrainOptions stop = quiet();
  stop.stop_after = 10;
  RunResult first = train(split, stop);
  EXPECT_FALSE(first.finished);
  EXPECT_EQ(first.step, 10);
  EXPECT_FALSE(fs::exists(first.run_dir / "summary.json"));
  TrainOptions resume = quiet();
  resume.resume = true;
  ASSERT_TRUE(train(split, resume).finished);

  auto a = read_json_lines(run_directory(full) / "metrics.jsonl");
  auto b = read_json_lines(run_directory(split) / "metrics.jsonl");
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 4u);
  for (size_t n = 0; n < a.size(); ++n) {
    EXPECT_EQ(a[n]["step"], b[n]["step"]);
    EXPECT_NEAR(a[n]["train_loss"].get<double>(), b[n]["train_loss"].get<double>(), 1e-6) << "eval " << n;
    EXPECT_NEAR(a[n]["val_loss"].get<double>(), b[n]["val_loss"].get<double>(), 1e-6) << "eval " << n;
  }
}

TEST(Training, ExistingRunFolderIsNeitherOverwrittenNorResumedByAccident) {
  fs::path root = test::temp_dir("guard");
  Config c = test::make_config(plus(tiny_run(root, "g"), {"train.steps=2", "eval.every=2"}));
  ASSERT_TRUE(train(c, quiet()).finished);
  auto before = fs::last_write_time(run_directory(c) / "summary.json");
  try {
    train(c, quiet());
    FAIL() << "expected an error";
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("holds a finished run"), std::string::npos) << err.what();
  }
  EXPECT_EQ(fs::last_write_time(run_directory(c) / "summary.json"), before);
  Config other = test::make_config(plus(tiny_run(root, "never-started"), {"train.steps=2"}));
  TrainOptions resume = quiet();
  resume.resume = true;
  EXPECT_THROW(train(other, resume), InputError);
}

TEST(Training, BadDataLeavesNoRunFolder) {
  fs::path root = test::temp_dir("baddata");
  // Windows longer than the validation split can hold.
  Config c = test::make_config(plus(tiny_run(root, "toolong"), {"model.seq_len=100000", "train.steps=2"}));
  EXPECT_THROW(train(c, quiet()), InputError);
  EXPECT_FALSE(fs::exists(run_directory(c)));
}

TEST(Training, AFrozenGroupDoesNotMoveDuringItsStage) {
  fs::path root = test::temp_dir("stages");
  Config c = test::make_config(
      plus(tiny_run(root, "staged"), {"train.stages.0.steps=3", "train.stages.0.groups=[\"attention\"]",
                                      "train.stages.1.steps=2", "eval.every=100"}));
  TrainOptions stop = quiet();
  stop.stop_after = 3;
  ASSERT_FALSE(train(c, stop).finished);
  // Rebuild the initial model from the same seed and compare with the checkpoint after stage one.
  int moved_attention = 0;
  for (const auto& [name, moved] : test::parameters_moved(c, 320)) {
    if (parameter_group(name) == "attention")
      moved_attention += moved ? 1 : 0;
    else
      EXPECT_FALSE(moved) << name << " moved while frozen";
  }
  EXPECT_GT(moved_attention, 0);
}

TEST(Training, AStageWithNothingToTrainIsSkippedAndLaterStagesKeepTheirSteps) {
  // exp4's classic variant: the indexer warm-up stage has no indexer to train.
  fs::path root = test::temp_dir("empty-stage");
  Config c = test::make_config(
      plus(tiny_run(root, "nosparse"),
           {"sparse.plugin=none", "train.stages.0.steps=3", "train.stages.0.groups=[\"sparse\"]",
            "train.stages.0.mode=\"warmup\"", "train.stages.1.steps=4", "eval.every=1"}));
  RunResult r = train(c, quiet());
  ASSERT_TRUE(r.finished);
  std::vector<int64_t> steps;
  for (const auto& line : read_json_lines(r.run_dir / "metrics.jsonl"))
    if (line.contains("step")) steps.push_back(line.at("step").get<int64_t>());
  ASSERT_FALSE(steps.empty());
  EXPECT_EQ(steps.front(), 4);  // the second stage starts after the first one's 3 steps
  EXPECT_EQ(steps.back(), 7);
}

TEST(Split, ByDocumentDisjointCompleteAndIndependentOfRunSeed) {
  std::vector<Document> docs;
  for (int n = 0; n < 50; ++n) docs.push_back({"doc" + std::to_string(n), "text " + std::to_string(n)});
  DocumentSplit a = split_documents(docs, 0.2, 1234, 0);
  DocumentSplit b = split_documents(docs, 0.2, 1234, 0);
  DocumentSplit other = split_documents(docs, 0.2, 99, 0);
  EXPECT_EQ(a.validation.size(), 10u);
  EXPECT_EQ(a.train.size(), 40u);
  std::set<std::string> train_ids, val_ids, other_ids;
  for (const auto& d : a.train) train_ids.insert(d.id);
  for (const auto& d : a.validation) val_ids.insert(d.id);
  for (const auto& d : other.validation) other_ids.insert(d.id);
  for (const auto& id : val_ids) EXPECT_EQ(train_ids.count(id), 0u) << id;
  EXPECT_EQ(train_ids.size() + val_ids.size(), 50u);
  for (size_t n = 0; n < a.validation.size(); ++n) EXPECT_EQ(a.validation[n].id, b.validation[n].id);
  EXPECT_NE(val_ids, other_ids);
  EXPECT_THROW(split_documents({docs[0]}, 0.5, 1, 0), InputError);
  EXPECT_EQ(split_documents(docs, 0.001, 1, 0).validation.size(), 1u);  // never empty
}

TEST(Split, NoValidationDocumentAppearsInTheTrainingStream) {
  fs::path root = test::temp_dir("leak");
  std::vector<Document> docs;
  std::mt19937 rng(3);
  for (int n = 0; n < 30; ++n) {
    std::string text;
    for (int w = 0; w < 200; ++w) {
      // Pseudo-words of letters: digits would be split apart by the tokenizer and limit its merges.
      int word = static_cast<int>(rng() % 400);
      text += std::string(1, static_cast<char>('a' + word % 26)) + static_cast<char>('a' + word / 26 % 26) +
              static_cast<char>('a' + word / 7 % 26) + " ";
    }
    docs.push_back({"d" + std::to_string(n), text});
  }
  struct Fixed : Dataset {
    std::vector<Document> docs;
    std::vector<Document> documents() override { return docs; }
    std::string describe() const override { return "fixed"; }
  } dataset;
  dataset.docs = docs;
  DataConfig dc;
  dc.val_fraction = 0.2;
  dc.split_seed = 5;
  dc.vocab_size = 290;
  Corpus corpus = prepare_corpus(dataset, dc, (root / "cache").string());
  ASSERT_FALSE(corpus.val_ids.empty());
  const auto& train = corpus.train_tokens;
  for (const auto& doc : docs) {
    if (std::find(corpus.val_ids.begin(), corpus.val_ids.end(), doc.id) == corpus.val_ids.end()) continue;
    auto ids = corpus.tokenizer.encode(doc.text);
    ASSERT_GT(ids.size(), 20u);
    std::vector<int32_t> probe(ids.begin() + 5, ids.begin() + 20);  // 15 tokens from inside the document
    EXPECT_EQ(std::search(train.begin(), train.end(), probe.begin(), probe.end()), train.end()) << doc.id;
  }
}

TEST(Training, MuonRunLossFalls) {
  fs::path root = test::temp_dir("muon");
  Config c = test::make_config(plus(tiny_run(root, "muon"), {"train.optimizer=muon", "train.muon_lr=0.02",
                                                             "train.steps=30", "eval.every=10"}));
  RunResult r = train(c, quiet());
  ASSERT_TRUE(r.finished);
  auto lines = read_json_lines(r.run_dir / "metrics.jsonl");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_LT(lines.back()["val_loss"].get<double>(), lines.front()["val_loss"].get<double>() - 0.2);
}
