#include "sweep/sweep.hpp"

#include "recipe/schema.hpp"

#include <lab/error.hpp>

#include <algorithm>
#include <cstdio>

namespace lab {

namespace {

const std::string kSweepPrefix = "sweep.";

int64_t default_seed(const Recipe& recipe) {
  if (const Entry* e = recipe.find("train.seed"))
    if (e->value.type == ValueType::Int) return e->value.i;
  for (const auto& k : core_keys())
    if (k.name == "train.seed") return k.default_value.i;
  return 0;
}

}  // namespace

std::string value_label(const Value& value) {
  std::string text = value.repr();
  if (value.type == ValueType::String) text = value.s;
  if (value.type == ValueType::Float) {
    char buffer[40];  // 10000 rather than 1e+04, 0.0003 rather than 3.0000000000000003e-04
    std::snprintf(buffer, sizeof buffer, "%.10g", value.f);
    text = buffer;
  }
  for (char& c : text)
    if (c == '/' || c == ' ' || c == '\\' || c == '"' || c == '\'') c = '_';
  return text.empty() ? "empty" : text;
}

std::vector<SweepRun> expand_sweep(const Recipe& recipe) {
  // The swept keys, in the recipe's key order (sorted), each with its list of values.
  std::vector<std::pair<std::string, const Entry*>> axes;
  for (const auto& [key, entry] : recipe.entries()) {
    if (key.rfind(kSweepPrefix, 0) != 0) continue;
    const std::string target = key.substr(kSweepPrefix.size());
    if (entry.value.type != ValueType::List)
      throw InputError(entry.where.str() + ": " + key + ": sweep values must be an array");
    if (entry.value.list.empty())
      throw InputError(entry.where.str() + ": " + key + ": sweep values must not be empty");
    if (target == "experiment.variant" || target == "train.seed" || target == "seeds")
      throw InputError(entry.where.str() + ": " + key +
                       ": not sweepable (variants are named after the swept values; use `seeds` for seeds)");
    axes.emplace_back(target, &entry);
  }

  std::vector<int64_t> seeds;
  if (const Entry* e = recipe.find("seeds")) {
    if (e->value.type != ValueType::List)
      throw InputError(e->where.str() + ": seeds: expected an array of integers");
    for (const auto& s : e->value.list) {
      if (s.type != ValueType::Int)
        throw InputError(e->where.str() + ": seeds: expected an array of integers, found " + s.repr());
      if (std::find(seeds.begin(), seeds.end(), s.i) != seeds.end())
        throw InputError(e->where.str() + ": seeds: " + s.repr() + " is listed twice");
      seeds.push_back(s.i);
    }
  }
  if (seeds.empty()) seeds.push_back(default_seed(recipe));

  // Odometer over the axes: the last axis turns fastest.
  std::vector<size_t> at(axes.size(), 0);
  std::vector<SweepRun> runs;
  for (bool more = true; more;) {
    std::vector<std::pair<std::string, Value>> choices;
    std::string name;
    for (size_t a = 0; a < axes.size(); ++a) {
      const Value& v = axes[a].second->value.list[at[a]];
      choices.emplace_back(axes[a].first, v);
      name += (name.empty() ? "" : "+") + axes[a].first + "-" + value_label(v);
    }
    if (axes.empty()) {
      const Entry* variant = recipe.find("experiment.variant");
      name = variant && variant->value.type == ValueType::String ? variant->value.s : "baseline";
    }
    for (int64_t seed : seeds) {
      SweepRun run;
      run.index = runs.size();
      run.variant = name;
      run.seed = seed;
      run.choices = choices;
      run.recipe = recipe;
      for (const auto& [key, entry] : axes) run.recipe.erase(kSweepPrefix + key);
      for (size_t a = 0; a < axes.size(); ++a)
        run.recipe.assign(axes[a].first, Entry{choices[a].second, axes[a].second->where});
      const Location sweep_here = axes.empty() ? recipe.where("seeds") : axes.front().second->where;
      if (!axes.empty()) run.recipe.assign("experiment.variant", Entry{Value::of(name), sweep_here});
      run.recipe.assign("train.seed", Entry{Value::of(seed), recipe.where("seeds")});
      runs.push_back(std::move(run));
    }
    more = false;
    for (size_t a = axes.size(); a-- > 0;) {
      if (++at[a] < axes[a].second->value.list.size()) {
        more = true;
        break;
      }
      at[a] = 0;
    }
  }
  return runs;
}

Shard parse_shard(const std::string& text) {
  auto slash = text.find('/');
  Shard shard;
  try {
    if (slash == std::string::npos) throw std::invalid_argument("no slash");
    size_t used = 0;
    shard.index = std::stoll(text.substr(0, slash), &used);
    if (used != slash) throw std::invalid_argument("index");
    shard.count = std::stoll(text.substr(slash + 1), &used);
    if (used != text.size() - slash - 1) throw std::invalid_argument("count");
  } catch (const std::exception&) {
    throw InputError("--shard " + text + ": expected i/n, e.g. 0/4 (shards are numbered from 0)");
  }
  if (shard.count < 1 || shard.index < 0 || shard.index >= shard.count)
    throw InputError("--shard " + text + ": need 0 <= i < n (shards are numbered from 0)");
  return shard;
}

std::vector<SweepRun> shard_runs(const std::vector<SweepRun>& runs, const Shard& shard) {
  std::vector<SweepRun> mine;
  for (const auto& run : runs)
    if (static_cast<int64_t>(run.index % static_cast<size_t>(shard.count)) == shard.index)
      mine.push_back(run);
  return mine;
}

}  // namespace lab
