// The causality audit of a configuration: the exact probe of each plugin slot and of the whole model
// (check a), and the learning check on uniform tokens (check b), with their verdicts as text and JSON.
#pragma once

#include "audit/change_log.hpp"
#include "audit/component_probe.hpp"
#include "audit/learning_check.hpp"
#include "audit/model_probe.hpp"
#include "audit/probe_config.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace lab {

struct Config;

struct SlotVerdict {
  std::string slot;    // attention, kernel, rope, router, sparse, model
  std::string plugin;  // the plugin's name; "all plugins" for the model
  std::string mode;    // sparse stage mode probed ("" when none)
  ChangeLog log;
  bool passed() const { return log.passed(); }
};

struct CausalityAudit {
  std::vector<std::string> shape;        // how the probe's shape differs from the recipe's
  std::vector<SlotVerdict> exact;        // check (a)
  std::vector<LearningResult> learning;  // check (b), one per sparse mode; empty when not run
  bool exact_passed() const;
  bool learning_passed() const;
  bool passed() const { return exact_passed() && learning_passed(); }
};

// The sparse stage modes the recipe's stages use, in order ({""} without a sparse plugin or modes).
std::vector<std::string> sparse_modes(const Config& config);

// Check (a) for every slot of `config` and for the model built from it (its vocab_size set), plus,
// when `trained` is given, for that model as it is (a run's trained weights).
std::vector<SlotVerdict> exact_checks(const Config& config, const ProbePlan& plan,
                                      const ModelFactory& trained = nullptr);

// "model.d_model 256 -> 64 (smaller probe)", "model.seq_len 128 kept (the plugins refuse less)".
std::vector<std::string> shape_lines(const ProbeShape& shape);

nlohmann::json causality_json(const CausalityAudit& audit);
std::string causality_text(const CausalityAudit& audit);

// {"exact": "pass"|"fail", "learning": "pass"|"fail"|"not run", ...}: what a run records.
nlohmann::json causality_status(const CausalityAudit& audit);

}  // namespace lab
