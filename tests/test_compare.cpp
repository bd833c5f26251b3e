// lab compare: variants grouped from run folders, statistics against the baseline, files written.
#include "compare/comparison.hpp"
#include "compare/report.hpp"
#include "run/plots.hpp"
#include "test_support.hpp"

#include <lab/error.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

using namespace lab;
namespace fs = std::filesystem;

namespace {

// A finished run folder as the trainer writes it (only the fields compare reads).
void fake_run(const fs::path& root, const std::string& variant, int64_t seed, double loss, int64_t active) {
  fs::path dir = root / "exp" / variant / ("seed-" + std::to_string(seed));
  fs::create_directories(dir);
  nlohmann::json summary = {
      {"experiment", "exp"},
      {"variant", variant},
      {"seed", seed},
      {"final", {{"val_loss", loss}, {"val_accuracy", 1 - loss / 10}, {"val_perplexity", std::exp(loss)}}},
      {"parameters", {{"total", 2 * active}, {"active_per_token", active}}},
      {"tokens_per_s", 1000.0 + seed},
      {"wall_seconds", 10.0 * seed},
      {"peak_memory_mb", 500.0}};
  std::ofstream(dir / "summary.json") << summary.dump();
  std::ofstream metrics(dir / "metrics.jsonl");
  for (int step = 1; step <= 3; ++step)
    metrics
        << nlohmann::json{{"step", step * 10}, {"wall_s", step * 1.5}, {"val_loss", loss + 3 - step}}.dump()
        << "\n";
}

fs::path three_variants(const std::string& name) {
  fs::path root = test::temp_dir(name);
  // baseline: 1..5; wide: {2, 4, 6}; single: one seed.
  for (int s = 1; s <= 5; ++s) fake_run(root, "baseline", s, s, 1000000);
  fake_run(root, "wide", 1, 2, 3000000);
  fake_run(root, "wide", 2, 4, 3000000);
  fake_run(root, "wide", 3, 6, 3000000);
  fake_run(root, "single", 1, 0.5, 500000);
  fs::create_directories(root / "exp" / "unfinished" / "seed-1");  // no summary: skipped
  return root;
}

const VariantResult& variant(const Comparison& c, const std::string& name) {
  for (const auto& v : c.variants)
    if (v.name == name) return v;
  throw std::runtime_error("no variant " + name);
}

}  // namespace

TEST(Compare, StatisticsPerVariantAndAgainstBaseline) {
  fs::path root = three_variants("compare-stats");
  Comparison c = compare_runs(find_runs({root}));
  ASSERT_EQ(c.records.size(), 9u);
  ASSERT_EQ(c.variants.size(), 3u);
  EXPECT_EQ(c.baseline, "baseline");
  EXPECT_EQ(c.best, "single");
  const VariantResult& base = variant(c, "baseline");
  EXPECT_DOUBLE_EQ(base.val_loss.mean, 3.0);
  EXPECT_NEAR(*base.val_loss.ci95_half, 2.776445105 * std::sqrt(0.5), 1e-6);
  EXPECT_EQ(base.params_active, 1000000);
  const VariantResult& wide = variant(c, "wide");
  ASSERT_TRUE(wide.loss_vs_baseline && wide.loss_vs_baseline->welch && wide.loss_vs_baseline->cohens_d);
  EXPECT_DOUBLE_EQ(wide.loss_vs_baseline->difference, 1.0);
  EXPECT_NEAR(wide.loss_vs_baseline->welch->p_value, 0.50621, 1e-4);
  EXPECT_NEAR(*wide.loss_vs_baseline->cohens_d, 1 / std::sqrt(3.0), 1e-12);
  const VariantResult& single = variant(c, "single");
  EXPECT_FALSE(single.val_loss.ci95_half.has_value());
  EXPECT_FALSE(single.loss_vs_baseline->welch.has_value());

  const std::string md = comparison_markdown(c);
  EXPECT_NE(md.find("0.5000 (1 seed)"), std::string::npos) << md;
  EXPECT_NE(md.find("no standard deviation, interval or test can be given"), std::string::npos) << md;
  EXPECT_NE(md.find("| wide | val loss | +1.0000 |"), std::string::npos) << md;
  EXPECT_NE(md.find("no significant difference"), std::string::npos) << md;
  const std::string csv = comparison_csv(c);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4);
  nlohmann::json j = comparison_json(c);
  EXPECT_EQ(j["baseline"], "baseline");
  EXPECT_TRUE(j["variants"][1]["val_loss"]["ci95"].is_null());  // single, sorted after baseline
}

TEST(Compare, ChosenBaselineAndErrors) {
  fs::path root = three_variants("compare-baseline");
  Comparison c = compare_runs(find_runs({root / "exp" / "wide", root / "exp" / "baseline"}), "wide");
  EXPECT_EQ(c.baseline, "wide");
  EXPECT_DOUBLE_EQ(variant(c, "baseline").loss_vs_baseline->difference, -1.0);
  EXPECT_THROW(compare_runs(find_runs({root}), "nope"), InputError);
  EXPECT_THROW(find_runs({root / "missing"}), InputError);
  EXPECT_THROW(find_runs({root / "exp" / "unfinished"}), InputError);
}

TEST(Compare, CommandWritesTablesAndPlots) {
  fs::path root = three_variants("compare-cli");
  auto o = test::run_lab("compare " + (root / "exp").string() + " --out " + (root / "cmp").string());
  ASSERT_EQ(o.code, 0) << o.output;
  EXPECT_NE(o.output.find("## Against the baseline"), std::string::npos) << o.output;
  for (const char* f : {"comparison.md", "comparison.csv", "comparison.json"})
    EXPECT_TRUE(fs::exists(root / "cmp" / f)) << f;
  if (gnuplot_available())
    for (const char* f : {"performance_comparison.png", "val_loss_vs_step.png", "val_loss_vs_time.png"})
      EXPECT_GT(fs::file_size(root / "cmp" / f), 1000u) << f;
}
