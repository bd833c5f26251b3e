// Pictures drawn with gnuplot (pngcairo).
#pragma once

#include <filesystem>
#include <string>

namespace lab {

// True when a gnuplot with the pngcairo terminal can be run.
bool gnuplot_available();

// Reads a run's metrics.jsonl and writes training_curves.png: loss, accuracy and perplexity against
// step and against wall-clock time (train and validation). Returns false (with a warning on stderr)
// when gnuplot is missing or fails; never throws for plotting failures.
bool plot_training_curves(const std::filesystem::path& metrics_jsonl, const std::filesystem::path& out_png);

}  // namespace lab
