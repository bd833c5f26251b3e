// A comparison of variants over seeds: summaries with confidence intervals, tests against a baseline.
#pragma once

#include "compare/runs.hpp"
#include "compare/stats.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace lab {

struct VersusBaseline {
  double difference = 0;           // variant mean - baseline mean
  std::optional<WelchTest> welch;  // none with fewer than two seeds on a side
  std::optional<double> cohens_d;
};

// exp(mean validation loss) and the exp of the loss's 95% interval: perplexity is a function of the
// loss, so it is shown beside it, never tested as a second, dependent outcome.
struct DerivedPerplexity {
  double value = 0;
  std::optional<double> ci95_low, ci95_high;
};
DerivedPerplexity perplexity_of(const Summary& val_loss);

struct VariantResult {
  std::string name;          // "variant", or "experiment/variant" when several experiments are compared
  std::vector<size_t> runs;  // indices into Comparison::records
  std::vector<int64_t> seeds;
  Summary val_loss, val_accuracy, tokens_per_s, wall_seconds, peak_memory_mb;
  DerivedPerplexity val_perplexity;
  int64_t params_total = 0, params_active = 0;  // of the first seed (the same for every seed)
  std::optional<VersusBaseline> loss_vs_baseline, accuracy_vs_baseline;
  double epochs = -1;                    // the most over its seeds; -1 when no run recorded them
  std::string audit = kAuditUnaudited;   // the worst causality verdict over its seeds
  std::vector<std::string> audit_notes;  // why it is flagged: failing checks, data warnings
  bool flagged() const { return audit == kAuditFail || audit == kAuditUnaudited || !audit_notes.empty(); }
};

struct Comparison {
  std::vector<RunRecord> records;
  std::vector<VariantResult> variants;
  std::string baseline;  // name of the variant the others are tested against
  std::string best;      // lowest mean validation loss
  double alpha = 0.05;   // significance level of the verdicts
};

// Groups `records` into variants and computes every statistic. The baseline is `baseline` when given
// (an InputError when no variant has that name), else a variant named "baseline", else the first.
Comparison compare_runs(std::vector<RunRecord> records, const std::string& baseline = "");

std::string comparison_markdown(const Comparison& c);
std::string comparison_csv(const Comparison& c);
nlohmann::json comparison_json(const Comparison& c);

}  // namespace lab
