// lab::Tokenizer: exact round trips, id ranges, the on-disk cache and clear errors.
#include "data/sentencepiece_engine.hpp"
#include "data/tokenizer.hpp"
#include "test_support.hpp"

#include <lab/error.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

// A fresh folder per test, removed afterwards.
class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(fs::path(testing::TempDir()) / ("lab_tokenizer_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A few hundred lines of varied English, enough for a few hundred merges.
std::vector<std::string> training_texts() {
  const std::vector<std::string> sentences = {
      "The harbor was quiet before the boats came back in the evening.",
      "She counted the coins twice, then wrote the total in a small notebook.",
      "Rain fell on the tin roof all night, and nobody in the house slept well.",
      "A good map shows the rivers, the roads and the places where bridges used to be.",
      "He asked whether the train would stop at the old station near the quarry.",
      "Numbers like 42, 1999 and 3.14 appear in the ledger next to every entry.",
      "The committee said it would publish its report \"within a month\" (maybe two).",
      "Bread, cheese and apples: the whole lunch fit into one paper bag!",
  };
  std::vector<std::string> texts;
  for (int round = 0; round < 40; ++round) {
    std::string text;
    for (size_t n = 0; n < sentences.size(); ++n) {
      text += sentences[(n + round) % sentences.size()];
      text += (n % 3 == 2) ? "\n\n" : "\n";
    }
    texts.push_back(text + "Entry number " + std::to_string(round) + " ends here.");
  }
  return texts;
}

constexpr int64_t kVocab = 400;

TEST(Tokenizer, RoundTripsVariedTextExactly) {
  TempDir dir("roundtrip");
  const auto tokenizer = lab::Tokenizer::train_or_load(training_texts(), kVocab, dir.path());
  const std::vector<std::string> samples = {
      "The harbor was quiet.",
      "Two  spaces,   three spaces and a trailing space ",
      " leading space and\ttabs\tinside",
      "Line one\nLine two\n\nAfter a blank line\n",
      "\n\nStarts with newlines",
      "Punctuation: ;:!?()[]{}<>@#$%^&*_-+=~`|\\/\"'",
      "Digits 0123456789 and 3.14159 and 1,000,000",
      "Unicode: caf\u00e9, na\u00efve, \u65e5\u672c\u8a9e, \u0416\u0443\u043a, emoji \U0001F600.",
      "Words the training text never saw: zygote, quixotic, xylophone.",
      "",
  };
  for (const auto& text : samples) EXPECT_EQ(tokenizer.decode(tokenizer.encode(text)), text) << text;
  for (const auto& text : training_texts()) EXPECT_EQ(tokenizer.decode(tokenizer.encode(text)), text);
}

TEST(Tokenizer, IdsAreInsideTheVocabularyAndEosIsReserved) {
  TempDir dir("ids");
  const auto tokenizer = lab::Tokenizer::train_or_load(training_texts(), kVocab, dir.path());
  EXPECT_EQ(tokenizer.vocab_size(), kVocab);
  ASSERT_GE(tokenizer.eos_id(), 0);
  ASSERT_LT(tokenizer.eos_id(), tokenizer.vocab_size());
  const std::string text = "The harbor was quiet, \u65e5\u672c and 12345.\nNew line.";
  const auto ids = tokenizer.encode(text);
  ASSERT_FALSE(ids.empty());
  for (int32_t id : ids) {
    EXPECT_GE(id, 0);
    EXPECT_LT(id, tokenizer.vocab_size());
    EXPECT_NE(id, tokenizer.eos_id()) << "ordinary text must never produce the end-of-sequence id";
  }
  // Learned merges: common words take fewer tokens than bytes.
  EXPECT_LT(tokenizer.encode("The harbor was quiet before the boats came back").size(), 30u);
}

TEST(Tokenizer, SecondCallIsACacheHitWithTheSameModel) {
  TempDir dir("cache");
  const fs::path cache = dir.path() / "nested" / "cache";  // created on demand
  bool hit = true;
  const auto first = lab::Tokenizer::train_or_load(training_texts(), kVocab, cache, &hit);
  EXPECT_FALSE(hit);
  EXPECT_TRUE(fs::exists(first.model_path()));
  EXPECT_EQ(first.model_path().parent_path(), cache);
  EXPECT_EQ(first.model_path().filename().string().rfind("tokenizer-", 0), 0u);
  EXPECT_EQ(first.model_path().extension(), ".model");
  // Only the model is left behind: scratch files are cleaned up.
  EXPECT_EQ(std::distance(fs::directory_iterator(cache), fs::directory_iterator()), 1);

  const auto second = lab::Tokenizer::train_or_load(training_texts(), kVocab, cache, &hit);
  EXPECT_TRUE(hit);
  EXPECT_EQ(second.model_path(), first.model_path());
  const std::string text = "Rain fell on the tin roof all night.\nNumbers like 1999.";
  EXPECT_EQ(second.encode(text), first.encode(text));

  const auto loaded = lab::Tokenizer::load(first.model_path());
  EXPECT_EQ(loaded.encode(text), first.encode(text));
  EXPECT_EQ(loaded.eos_id(), first.eos_id());
}

TEST(Tokenizer, ChangedTextOrVocabularySizeMissesTheCache) {
  TempDir dir("miss");
  bool hit = true;
  const auto base = lab::Tokenizer::train_or_load(training_texts(), kVocab, dir.path(), &hit);
  EXPECT_FALSE(hit);

  auto changed = training_texts();
  changed.back().back() = '!';  // one byte differs
  const auto other_text = lab::Tokenizer::train_or_load(changed, kVocab, dir.path(), &hit);
  EXPECT_FALSE(hit);
  EXPECT_NE(other_text.model_path(), base.model_path());

  const auto other_size = lab::Tokenizer::train_or_load(training_texts(), kVocab + 20, dir.path(), &hit);
  EXPECT_FALSE(hit);
  EXPECT_NE(other_size.model_path(), base.model_path());
  EXPECT_EQ(other_size.vocab_size(), kVocab + 20);

  // Moving text between documents changes the key too.
  auto regrouped = training_texts();
  regrouped[0] += regrouped[1];
  regrouped.erase(regrouped.begin() + 1);
  const auto moved = lab::Tokenizer::train_or_load(regrouped, kVocab, dir.path(), &hit);
  EXPECT_FALSE(hit);
  EXPECT_NE(moved.model_path(), base.model_path());
}

// Runs `action`, expecting lab::InputError; returns its message.
template <typename Action>
std::string input_error(Action action) {
  try {
    action();
  } catch (const lab::InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected lab::InputError";
  return "";
}

TEST(Tokenizer, ImpossibleVocabularySizesAreClearInputErrors) {
  TempDir dir("errors");
  const auto too_large =
      input_error([&] { lab::Tokenizer::train_or_load(training_texts(), 50000, dir.path()); });
  EXPECT_NE(too_large.find("vocab_size 50000 is too large"), std::string::npos) << too_large;
  EXPECT_EQ(too_large.find('\n'), std::string::npos) << too_large;

  const auto too_small =
      input_error([&] { lab::Tokenizer::train_or_load(training_texts(), 100, dir.path()); });
  EXPECT_NE(too_small.find("vocab_size 100 is too small"), std::string::npos) << too_small;

  const auto empty = input_error([&] { lab::Tokenizer::train_or_load({"", "\n\n"}, kVocab, dir.path()); });
  EXPECT_NE(empty.find("no text"), std::string::npos) << empty;

  // Failed runs leave neither a model nor scratch files behind.
  if (fs::exists(dir.path())) {
    EXPECT_TRUE(fs::is_empty(dir.path()));
  }
}

TEST(Tokenizer, LoadingAMissingModelIsAnInputError) {
  const auto message = input_error([] { lab::Tokenizer::load("/nonexistent/tokenizer.model"); });
  EXPECT_NE(message.find("/nonexistent/tokenizer.model"), std::string::npos) << message;
}

}  // namespace

namespace {

// SentencePiece in this process and in lab_tokenizer_service must give the same model the same way.
TEST(TokenizerEngines, ServiceAndInProcessAgreeOnEveryPieceAndId) {
  if (!lab::in_process_tokenizer_available())
    GTEST_SKIP() << "no in-process engine to compare with: AddressSanitizer refuses its RTLD_DEEPBIND (the "
                    "service is what every other tokenizer test runs here)";
  TempDir dir("engines");
  const auto model = lab::Tokenizer::train_or_load(training_texts(), kVocab, dir.path()).model_path();
  auto service = lab::make_service_engine();
  auto in_process = lab::make_in_process_engine();
  std::string error;
  auto a = service->load(model.string(), &error);
  ASSERT_NE(a, nullptr) << error;
  auto b = in_process->load(model.string(), &error);
  ASSERT_NE(b, nullptr) << error;
  EXPECT_EQ(a->piece_size(), b->piece_size());
  EXPECT_EQ(a->eos_id(), b->eos_id());
  for (const auto& text : training_texts()) {
    std::vector<int> ids_a, ids_b;
    ASSERT_TRUE(a->encode(text + " ünïcode \t tail", &ids_a, &error)) << error;
    ASSERT_TRUE(b->encode(text + " ünïcode \t tail", &ids_b, &error)) << error;
    ASSERT_EQ(ids_a, ids_b);
    std::string back;
    ASSERT_TRUE(a->decode(ids_a, &back, &error)) << error;
    EXPECT_EQ(back, text + " ünïcode \t tail");
  }
}

TEST(TokenizerEngines, ServiceTrainsAndReportsSentencePieceFailures) {
  TempDir dir("service_train");
  fs::create_directories(dir.path());
  auto service = lab::make_service_engine();
  std::string error;
  EXPECT_EQ(service->load((dir.path() / "missing.model").string(), &error), nullptr);
  EXPECT_FALSE(error.empty());
  // A trainer call without input fails inside SentencePiece, and the service says why and stays up.
  error.clear();
  EXPECT_FALSE(service->train({{"model_prefix", (dir.path() / "m").string()}}, &error));
  EXPECT_FALSE(error.empty());
  { std::ofstream(dir.path() / "lines.txt") << "alpha beta gamma\ndelta epsilon\n"; }
  error.clear();
  EXPECT_TRUE(service->train({{"input", (dir.path() / "lines.txt").string()},
                              {"model_prefix", (dir.path() / "m").string()},
                              {"vocab_size", "30"},
                              {"model_type", "char"}},
                             &error))
      << error;
  auto model = service->load((dir.path() / "m.model").string(), &error);
  ASSERT_NE(model, nullptr) << error;
  std::vector<int> ids;
  EXPECT_TRUE(model->encode("beta", &ids, &error)) << error;
  EXPECT_FALSE(ids.empty());
}

// The real program, with the tokenizer in its own process, trains and reports the same tokenizer.
TEST(TokenizerEngines, RealProgramTrainsWithTheTokenizerInItsOwnProcess) {
  TempDir dir("program");
  fs::create_directories(dir.path());
  const fs::path recipe = dir.path() / "tiny.toml";
  std::ofstream(recipe)
      << "[experiment]\nname = \"tok\"\n[model]\nd_model = 32\nn_heads = 4\nn_layers = 1\n"
      << "seq_len = 32\n[moe]\nexperts = 2\ntop_k = 1\nd_ff = 64\n[kernel]\nplugin = \"math\"\n"
      << "[data]\nplugin = \"text\"\npath = \"" << LAB_TEST_DATA_DIR << "/tiny_text\"\n"
      << "[tokenizer]\nvocab_size = 300\ncache_dir = \"" << (dir.path() / "cache").string()
      << "\"\n[train]\nsteps = 2\nbatch_size = 2\nthreads = 1\n[eval]\nevery = 2\n"
      << "max_batches = 1\n[audit]\ncausality = false\n[run]\ndir = \"" << (dir.path() / "run").string()
      << "\"\n";
  auto o = lab::test::run_command("LAB_TOKENIZER=process " + std::string(LAB_PROGRAM) + " --quiet --recipe " +
                                  recipe.string() + " 2>&1");
  ASSERT_EQ(o.code, 0) << o.output;
  bool summary = false;
  for (const auto& entry : fs::recursive_directory_iterator(dir.path() / "run"))
    summary = summary || entry.path().filename() == "summary.json";
  EXPECT_TRUE(summary) << o.output;
  auto bad = lab::test::run_command("LAB_TOKENIZER=elsewhere " + std::string(LAB_PROGRAM) + " --recipe " +
                                    recipe.string() + " --overwrite 2>&1");
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("lab: error: LAB_TOKENIZER: 'elsewhere'"), std::string::npos) << bad.output;
}

}  // namespace
