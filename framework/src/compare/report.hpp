// Writes a comparison's files: comparison.md, .csv, .json and its plots.
#pragma once

#include "compare/comparison.hpp"

#include <filesystem>

namespace lab {

// Writes the tables and, when gnuplot is available, performance_comparison.png,
// val_loss_vs_step.png, val_loss_vs_time.png and parameter_efficiency.png into `out_dir`.
void write_comparison(const Comparison& c, const std::filesystem::path& out_dir);

}  // namespace lab
