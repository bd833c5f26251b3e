// The training curves of report.html: per variant and evaluation step, the mean over seeds and the
// seeds' range, read from each run's metrics.jsonl.
#pragma once

#include "compare/comparison.hpp"

#include <nlohmann/json.hpp>

namespace lab {

// An array of charts {id, title, xlabel, ylabel, x: [steps], variants: [{name, seeds, mean, low,
// high}]}: validation loss, training loss and validation accuracy against step. Steps a variant did
// not evaluate are null.
nlohmann::json curve_charts(const Comparison& c);

}  // namespace lab
