// report.html: one self-contained page (no server, no network) of a comparison: the runs and their
// resolved recipes, training curves per variant with the seeds' spread, the comparison tables with
// intervals and tests, parameter counts, cost, and the runs' and comparison's PNG pictures inlined.
#pragma once

#include "compare/comparison.hpp"
#include "report/chart_library.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace lab {

struct ReportInputs {
  std::vector<std::filesystem::path> pictures;  // PNG files to inline
  std::filesystem::path base;                   // pictures are captioned relative to it
  std::optional<ChartLibrary> charts;           // none: a page without charts that says why
  std::vector<std::filesystem::path> looked;    // where the chart library was looked for
};

std::string report_page(const Comparison& c, const ReportInputs& inputs);

// Every PNG at or below `roots` (checkpoint/ and tb/ skipped), each once, sorted.
std::vector<std::filesystem::path> find_pictures(const std::vector<std::filesystem::path>& roots);

// Writes `out_file` from the comparison, the pictures under `roots` and beside `out_file`, and uPlot
// when found (a warning on stderr when not).
void write_report(const Comparison& c, const std::vector<std::filesystem::path>& roots,
                  const std::filesystem::path& out_file);

}  // namespace lab
