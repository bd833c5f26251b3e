// Finished runs found under folders, read from their summary.json and metrics.jsonl.
#pragma once

#include "compare/audit_status.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace lab {

struct CurvePoint {
  double step = 0, wall_s = 0, val_loss = 0;
};

struct RunRecord {
  std::filesystem::path dir;
  std::string experiment, variant;
  int64_t seed = 0;
  double val_loss = 0, val_accuracy = 0, val_perplexity = 0;
  int64_t params_total = 0, params_active = 0;
  double tokens_per_s = 0, wall_seconds = 0, peak_memory_mb = 0;
  std::vector<CurvePoint> curve;  // validation loss at each evaluation
  AuditStatus audit;
};

// Every finished run (a folder with summary.json) at or below each of `dirs`, each once, sorted by
// experiment, variant and seed. Unfinished runs are skipped. Throws lab::InputError when a folder
// does not exist or holds no finished run, or a summary.json is malformed.
std::vector<RunRecord> find_runs(const std::vector<std::filesystem::path>& dirs);

}  // namespace lab
