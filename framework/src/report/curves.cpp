#include "report/curves.hpp"

#include "run/files.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace lab {

namespace fs = std::filesystem;

namespace {

struct Metric {
  const char* key;
  const char* title;
  const char* ylabel;
};
const Metric kMetrics[] = {{"val_loss", "validation loss", "loss"},
                           {"train_loss", "training loss (mean since the previous evaluation)", "loss"},
                           {"val_accuracy", "validation accuracy", "accuracy"}};

using StepValues = std::map<int64_t, std::vector<double>>;  // step -> one value per seed

nlohmann::json spread(const StepValues& values, const std::vector<int64_t>& steps, bool last) {
  nlohmann::json out = nlohmann::json::array();
  for (int64_t step : steps) {
    auto it = values.find(step);
    if (it == values.end()) {
      out.push_back(nullptr);
      continue;
    }
    const auto& v = it->second;
    out.push_back(last ? *std::max_element(v.begin(), v.end()) : *std::min_element(v.begin(), v.end()));
  }
  return out;
}

nlohmann::json mean(const StepValues& values, const std::vector<int64_t>& steps) {
  nlohmann::json out = nlohmann::json::array();
  for (int64_t step : steps) {
    auto it = values.find(step);
    if (it == values.end()) {
      out.push_back(nullptr);
      continue;
    }
    double sum = 0;
    for (double x : it->second) sum += x;
    out.push_back(sum / static_cast<double>(it->second.size()));
  }
  return out;
}

}  // namespace

nlohmann::json curve_charts(const Comparison& c) {
  // metrics.jsonl of every run, read once.
  std::vector<std::vector<nlohmann::json>> lines(c.records.size());
  for (size_t i = 0; i < c.records.size(); ++i)
    if (fs::exists(c.records[i].dir / "metrics.jsonl"))
      lines[i] = read_json_lines(c.records[i].dir / "metrics.jsonl");

  nlohmann::json charts = nlohmann::json::array();
  for (const auto& m : kMetrics) {
    std::set<int64_t> all_steps;
    std::vector<StepValues> per_variant(c.variants.size());
    for (size_t v = 0; v < c.variants.size(); ++v)
      for (size_t i : c.variants[v].runs)
        for (const auto& line : lines[i])
          if (line.contains(m.key) && line[m.key].is_number()) {
            const int64_t step = line.value("step", int64_t{0});
            per_variant[v][step].push_back(line[m.key].get<double>());
            all_steps.insert(step);
          }
    if (all_steps.empty()) continue;
    const std::vector<int64_t> steps(all_steps.begin(), all_steps.end());
    nlohmann::json variants = nlohmann::json::array();
    for (size_t v = 0; v < c.variants.size(); ++v)
      variants.push_back({{"name", c.variants[v].name},
                          {"seeds", c.variants[v].runs.size()},
                          {"mean", mean(per_variant[v], steps)},
                          {"low", spread(per_variant[v], steps, false)},
                          {"high", spread(per_variant[v], steps, true)}});
    charts.push_back({{"id", m.key},
                      {"title", m.title},
                      {"xlabel", "step"},
                      {"ylabel", m.ylabel},
                      {"x", steps},
                      {"variants", variants}});
  }
  return charts;
}

}  // namespace lab
