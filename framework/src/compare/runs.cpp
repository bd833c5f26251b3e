#include "compare/runs.hpp"

#include "run/files.hpp"

#include <lab/error.hpp>

#include <algorithm>
#include <set>
#include <tuple>

namespace lab {

namespace fs = std::filesystem;

namespace {

RunRecord read_run(const fs::path& dir) {
  const fs::path file = dir / "summary.json";
  const nlohmann::json j = read_json(file);
  RunRecord r;
  r.dir = dir;
  try {
    r.experiment = j.at("experiment").get<std::string>();
    r.variant = j.at("variant").get<std::string>();
    r.seed = j.at("seed").get<int64_t>();
    const auto& final = j.at("final");
    r.val_loss = final.at("val_loss").get<double>();
    r.val_accuracy = final.at("val_accuracy").get<double>();
    r.val_perplexity = final.at("val_perplexity").get<double>();
    r.params_total = j.at("parameters").at("total").get<int64_t>();
    r.params_active = j.at("parameters").at("active_per_token").get<int64_t>();
    r.tokens_per_s = j.value("tokens_per_s", 0.0);
    r.wall_seconds = j.value("wall_seconds", 0.0);
    r.peak_memory_mb = j.value("peak_memory_mb", 0.0);
    r.audit = read_audit_status(j, dir);
  } catch (const nlohmann::json::exception& err) {
    throw InputError(file.string() + ": not a run summary (" + err.what() + ")");
  }
  if (fs::exists(dir / "metrics.jsonl"))
    for (const auto& line : read_json_lines(dir / "metrics.jsonl")) {
      if (!line.contains("val_loss") || !line["val_loss"].is_number()) continue;
      r.curve.push_back(
          CurvePoint{line.value("step", 0.0), line.value("wall_s", 0.0), line["val_loss"].get<double>()});
    }
  return r;
}

}  // namespace

std::vector<RunRecord> find_runs(const std::vector<fs::path>& dirs) {
  std::set<fs::path> found;
  for (const auto& dir : dirs) {
    if (!fs::is_directory(dir)) throw InputError(dir.string() + ": no such folder");
    bool any = false;
    if (fs::exists(dir / "summary.json")) any = found.insert(fs::weakly_canonical(dir)).second || true;
    for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
      // Checkpoints and plots hold no runs; skipping them keeps large sweeps quick to scan.
      const std::string name = it->path().filename().string();
      if (it->is_directory() && (name == "checkpoint" || name == "plots")) {
        it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file() && name == "summary.json") {
        found.insert(fs::weakly_canonical(it->path().parent_path()));
        any = true;
      }
    }
    if (!any) throw InputError(dir.string() + ": holds no finished run (no summary.json)");
  }
  std::vector<RunRecord> runs;
  for (const auto& dir : found) runs.push_back(read_run(dir));
  std::sort(runs.begin(), runs.end(), [](const RunRecord& a, const RunRecord& b) {
    return std::tie(a.experiment, a.variant, a.seed) < std::tie(b.experiment, b.variant, b.seed);
  });
  return runs;
}

}  // namespace lab
