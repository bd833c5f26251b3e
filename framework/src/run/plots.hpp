// Pictures drawn with gnuplot (pngcairo).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace lab {

// True when a gnuplot with the pngcairo terminal can be run.
bool gnuplot_available();

// Reads a run's metrics.jsonl and writes training_curves.png: loss, accuracy and perplexity against
// step and against wall-clock time (train and validation). Returns false (with a warning on stderr)
// when gnuplot is missing or fails; never throws for plotting failures.
bool plot_training_curves(const std::filesystem::path& metrics_jsonl, const std::filesystem::path& out_png);

// General line plots: one panel per entry, side by side, each with named (x, y) series.
struct PlotSeries {
  std::string title;
  std::vector<double> x, y;  // same length; non-finite points are left out
};
struct PlotPanel {
  std::string title, xlabel, ylabel;
  bool log_x = false, log_y = false;
  std::vector<PlotSeries> series;
};

// Writes out_png with a .dat and a .gp beside it (replot with gnuplot). Returns false (with a warning on
// stderr) when gnuplot is missing or fails; never throws for plotting failures.
bool plot_panels(const std::vector<PlotPanel>& panels, const std::string& heading,
                 const std::filesystem::path& out_png);

}  // namespace lab
