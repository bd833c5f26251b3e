// The audit every training run makes at its start: the data audit of its corpus and, unless
// audit.causality = false, the exact causality probe of its model. summary.json keeps both.
#pragma once

#include "data/corpus.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace lab {

struct Config;

struct RunAudit {
  nlohmann::json json;                // summary.json's "audit": {"data": ..., "causality": ...}
  std::string line;                   // one progress line
  std::vector<std::string> warnings;  // one line each, for stderr
};

// `config` as the run trains it. The probe builds its own models at the audit's small shape, seeds
// them itself and leaves the global generator reseeded: call it before the run seeds its training
// stream.
RunAudit audit_run(const Config& config, const Corpus& corpus);

}  // namespace lab
