#include "train/checkpoint_state.hpp"

#include <lab/error.hpp>

#include <nlohmann/json.hpp>

#include <fstream>

namespace lab {

namespace {

nlohmann::json sums_json(const std::map<std::string, double>& sums) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : sums) j[k] = v;
  return j;
}

std::map<std::string, double> sums_of(const nlohmann::json& j) {
  std::map<std::string, double> sums;
  for (const auto& [k, v] : j.items()) sums[k] = v.get<double>();
  return sums;
}

}  // namespace

std::string state_json_text(const TrainingState& state) {
  const RunningAverages& r = state.running;
  nlohmann::json j = {{"step", state.step},
                      {"tokens", state.tokens},
                      {"train_seconds", state.train_seconds},
                      {"wall_seconds", state.wall_seconds},
                      {"running",
                       {{"loss_sum", r.loss_sum},
                        {"loss_count", r.loss_count},
                        {"aux_sum", sums_json(r.aux_sum)},
                        {"stat_sum", sums_json(r.stat_sum)},
                        {"stat_count", r.stat_count}}}};
  return j.dump(2) + "\n";
}

TrainingState read_state_json(const std::filesystem::path& file, int64_t total_steps) {
  std::ifstream in(file);
  if (!in) throw InputError(file.string() + ": missing");
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) throw InputError(file.string() + ": not a JSON object");
  TrainingState state;
  try {
    state.step = j.at("step").get<int64_t>();
    state.tokens = j.at("tokens").get<int64_t>();
    state.train_seconds = j.at("train_seconds").get<double>();
    state.wall_seconds = j.value("wall_seconds", state.train_seconds);
    if (j.contains("running")) {
      const nlohmann::json& r = j["running"];
      state.running.loss_sum = r.at("loss_sum").get<double>();
      state.running.loss_count = r.at("loss_count").get<int64_t>();
      state.running.aux_sum = sums_of(r.at("aux_sum"));
      state.running.stat_sum = sums_of(r.at("stat_sum"));
      state.running.stat_count = r.at("stat_count").get<int64_t>();
    }
  } catch (const nlohmann::json::exception& err) {
    std::string what = err.what();
    throw InputError(file.string() + ": " + what.substr(what.find(']') + 2));
  }
  if (state.step < 0)
    throw InputError(file.string() + ": step " + std::to_string(state.step) + " is negative");
  if (total_steps >= 0 && state.step > total_steps)
    throw InputError(file.string() + ": step " + std::to_string(state.step) + " lies outside this run's 0.." +
                     std::to_string(total_steps) + " steps");
  if (state.tokens < 0 || state.train_seconds < 0 || state.running.loss_count < 0 ||
      state.running.stat_count < 0)
    throw InputError(file.string() + ": a count or time is negative");
  return state;
}

}  // namespace lab
