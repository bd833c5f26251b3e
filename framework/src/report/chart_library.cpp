#include "report/chart_library.hpp"

#include <boost/dll/runtime_symbol_info.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace lab {

namespace fs = std::filesystem;

namespace {

std::string read_all(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::vector<fs::path> chart_library_dirs() {
  std::vector<fs::path> dirs;
  // A folder named explicitly is the only place looked in, so a wrong one is not masked.
  if (const char* env = std::getenv("LAB_UPLOT_DIR"); env && *env) return {fs::path(env)};
  std::error_code ec;
  const fs::path program = boost::dll::program_location(ec);
  if (!ec) {
    dirs.push_back(program.parent_path() / "share" / "lab" / "uplot");
    dirs.push_back((program.parent_path() / ".." / "share" / "lab" / "uplot").lexically_normal());
  }
  return dirs;
}

std::optional<ChartLibrary> find_chart_library() {
  for (const auto& dir : chart_library_dirs())
    if (fs::is_regular_file(dir / "uPlot.iife.min.js") && fs::is_regular_file(dir / "uPlot.min.css"))
      return ChartLibrary{read_all(dir / "uPlot.iife.min.js"), read_all(dir / "uPlot.min.css"), dir};
  return std::nullopt;
}

}  // namespace lab
