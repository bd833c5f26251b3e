// uPlot, the plotting library report.html inlines, found in the build or install tree.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace lab {

struct ChartLibrary {
  std::string js, css;
  std::filesystem::path dir;
};

// The folders searched: $LAB_UPLOT_DIR alone when set, else <program dir>/share/lab/uplot (build
// tree), then <program dir>/../share/lab/uplot (installed).
std::vector<std::filesystem::path> chart_library_dirs();

// uPlot.iife.min.js and uPlot.min.css from the first folder holding both; none when no folder does.
std::optional<ChartLibrary> find_chart_library();

}  // namespace lab
