// Pieces of the audit: n-gram overlap on hand-made streams, and how lab compare reads audit verdicts.
#include "audit/ngrams.hpp"
#include "compare/comparison.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <numeric>

using namespace lab;
namespace fs = std::filesystem;

namespace {

void fake_run(const fs::path& root, const std::string& variant, const nlohmann::json& audit) {
  const fs::path dir = root / "exp" / variant / "seed-1";
  fs::create_directories(dir);
  nlohmann::json summary = {{"experiment", "exp"},
                            {"variant", variant},
                            {"seed", 1},
                            {"final", {{"val_loss", 2.0}, {"val_accuracy", 0.5}, {"val_perplexity", 7.4}}},
                            {"parameters", {{"total", 10}, {"active_per_token", 10}}}};
  if (!audit.is_null()) summary["audit"] = audit;
  std::ofstream(dir / "summary.json") << summary.dump();
}

nlohmann::json audit_block(double epochs, const std::string& exact, const nlohmann::json& failing,
                           const nlohmann::json& warnings = nlohmann::json::array()) {
  return {{"data", {{"epochs", epochs}, {"warnings", warnings}}},
          {"causality", {{"exact", exact}, {"learning", "not run"}, {"failing", failing}}}};
}

const VariantResult& variant(const Comparison& c, const std::string& name) {
  for (const auto& v : c.variants)
    if (v.name == name) return v;
  throw std::runtime_error("no variant " + name);
}

}  // namespace

TEST(AuditNgrams, DocumentsEndAtEosAndNgramsStayInside) {
  const std::vector<int32_t> stream = {1, 2, 0, 3, 0, 4};
  EXPECT_EQ(document_spans(stream, 0), (std::vector<TokenSpan>{{0, 2}, {3, 4}, {5, 6}}));
  std::vector<uint64_t> hashes;
  append_ngram_hashes(stream, document_spans(stream, 0), 2, hashes);
  EXPECT_EQ(hashes.size(), 1u);  // only (1, 2): no bigram crosses an EOS
}

TEST(AuditNgrams, ShareOfQueryNgramsFoundInTheReference) {
  std::vector<int32_t> train(20);
  std::iota(train.begin(), train.end(), 1);  // one document 1..20
  const NgramSet reference(train, {{0, train.size()}}, 8);
  EXPECT_EQ(reference.size(), 13u);
  // 5..14 has three 8-grams, all in training; 100..109 three, none; 1..7 none (too short).
  std::vector<int32_t> val = {5,   6,   7,   8,   9,   10,  11,  12,  13,  14,  0,
                              100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 0};
  for (int32_t t = 1; t <= 7; ++t) val.push_back(t);
  const NgramShare share = share_found(val, document_spans(val, 0), 8, {&reference});
  EXPECT_EQ(share.ngrams, 6);
  EXPECT_EQ(share.found, 3);
  EXPECT_DOUBLE_EQ(share.share(), 0.5);
  // A changed token breaks every 8-gram that covers it.
  std::vector<int32_t> edited = {5, 6, 7, 8, 99, 10, 11, 12, 13, 14};
  EXPECT_EQ(share_found(edited, {{0, edited.size()}}, 8, {&reference}).found, 0);
}

TEST(AuditCompare, VariantsCarryEpochsAndTheirWorstVerdict) {
  const fs::path root = test::temp_dir("audit-compare");
  fake_run(root, "baseline", audit_block(1.5, "pass", nlohmann::json::array()));
  fake_run(root, "leaky", audit_block(1.5, "fail", {"kernel leaky", "model all plugins"}));
  fake_run(root, "looping",
           audit_block(100, "pass", nlohmann::json::array(), {"the recipe makes 100.0 passes"}));
  fake_run(root, "old", nullptr);
  fake_run(root, "full", audit_block(2, "pass", nlohmann::json::array()));
  // lab audit causality RUN_DIR replaces the quick probe's verdict.
  std::ofstream(root / "exp/full/seed-1/audit.json")
      << nlohmann::json{{"causality", {{"status", {{"exact", "pass"}, {"learning", "pass"}}}}}}.dump();

  const Comparison c = compare_runs(find_runs({root}));
  EXPECT_EQ(variant(c, "baseline").audit, "pass (exact only)");
  EXPECT_FALSE(variant(c, "baseline").flagged());
  EXPECT_DOUBLE_EQ(variant(c, "baseline").epochs, 1.5);
  EXPECT_EQ(variant(c, "leaky").audit, "FAIL");
  EXPECT_EQ(variant(c, "old").audit, "unaudited");
  EXPECT_DOUBLE_EQ(variant(c, "old").epochs, -1);
  EXPECT_TRUE(variant(c, "looping").flagged());
  EXPECT_EQ(variant(c, "full").audit, "pass");

  const std::string md = comparison_markdown(c);
  EXPECT_NE(md.find("| 1.50 | pass (exact only) |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 100.00 | pass (exact only), **data warning** |"), std::string::npos) << md;
  EXPECT_NE(md.find("| n/a | unaudited |"), std::string::npos) << md;
  EXPECT_NE(
      md.find("- **leaky** (FAIL); causality check failed: kernel leaky; causality check failed: model"),
      std::string::npos)
      << md;
  EXPECT_NE(md.find("- **old** (unaudited)"), std::string::npos) << md;
  EXPECT_EQ(md.find("- **baseline**"), std::string::npos) << md;
  const auto json = comparison_json(c);  // kept: a range over a temporary's member would dangle
  for (const auto& v : json["variants"])
    if (v["name"] == "leaky") EXPECT_TRUE(v["audit"] == "FAIL" && v["flagged"].get<bool>()) << v.dump();
}
