#include "registry/registry.hpp"

#include <lab_build_config.hpp>

#include <boost/dll/runtime_symbol_info.hpp>

#include <algorithm>
#include <cstdlib>

namespace lab {

namespace {

std::vector<std::string> split_path_list(const char* text) {
  std::vector<std::string> out;
  if (!text) return out;
  std::string current;
  for (const char* c = text;; ++c) {
    if (*c == ':' || *c == '\0') {
      if (!current.empty()) out.push_back(current);
      current.clear();
      if (*c == '\0') break;
    } else {
      current += *c;
    }
  }
  return out;
}

// Adds `dir` in canonical form unless it is missing or already listed under any spelling.
void add_dir(std::vector<std::filesystem::path>& out, const std::filesystem::path& dir) {
  std::error_code ec;
  if (dir.empty() || !std::filesystem::is_directory(dir, ec)) return;
  std::filesystem::path canonical = std::filesystem::canonical(dir, ec);
  if (ec) return;
  if (std::find(out.begin(), out.end(), canonical) == out.end()) out.push_back(canonical);
}

}  // namespace

std::vector<std::filesystem::path> plugin_search_path(const std::vector<std::string>& command_line,
                                                      const std::vector<std::string>& recipe_paths) {
  std::vector<std::filesystem::path> out;
  for (const auto& dir : command_line) add_dir(out, dir);
  for (const auto& dir : split_path_list(std::getenv("LAB_PLUGIN_PATH"))) add_dir(out, dir);
  for (const auto& dir : recipe_paths) add_dir(out, dir);

  std::error_code ec;
  std::filesystem::path program = boost::dll::program_location(ec);
  if (!ec) {
    std::filesystem::path program_dir = program.parent_path();
    add_dir(out, program_dir / "plugins");                         // build tree
    add_dir(out, program_dir / ".." / LAB_INSTALL_PLUGIN_SUBDIR);  // install tree
  }
  return out;
}

}  // namespace lab
