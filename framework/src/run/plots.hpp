// Pictures drawn with gnuplot (pngcairo).
#pragma once

#include <filesystem>
#include <string>
#include <utility>
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
// One panel of a bar chart: a value per variant with an optional error bar (half-width).
struct BarPanel {
  std::string title;
  std::string ylabel;
  struct Bar {
    std::string label;
    double value = 0;
    double error = 0;  // 0: no interval to draw
  };
  std::vector<Bar> bars;
};

// performance_comparison.png: a grid of bar panels (bars with confidence intervals).
bool plot_bar_panels(const std::vector<BarPanel>& panels, const std::string& heading,
                     const std::filesystem::path& out_png);

// A line per run: (x, y) points; runs of one variant share a colour and a legend entry.
struct CurveLine {
  std::string variant;
  std::vector<std::pair<double, double>> points;
};

// One chart of several variants' curves, e.g. validation loss against step or against wall time.
bool plot_curves(const std::vector<CurveLine>& lines, const std::string& title, const std::string& xlabel,
                 const std::string& ylabel, const std::filesystem::path& out_png);

// Labelled points, e.g. validation loss against active parameters.
struct LabelledPoint {
  std::string label;
  double x = 0, y = 0;
};
bool plot_points(const std::vector<LabelledPoint>& points, const std::string& title,
                 const std::string& xlabel, const std::string& ylabel, const std::filesystem::path& out_png);

}  // namespace lab

namespace lab {

// One heatmap panel: a rows x cols grid in row-major order; NaN cells are left blank.
struct Heatmap {
  std::string title, xlabel, ylabel;
  int64_t rows = 0, cols = 0;
  std::vector<double> values;
};

// Heatmap panels in a grid of at most `columns` per row (gnuplot `with image`).
bool plot_heatmaps(const std::vector<Heatmap>& maps, const std::string& heading,
                   const std::filesystem::path& out_png, int columns = 3);

}  // namespace lab
