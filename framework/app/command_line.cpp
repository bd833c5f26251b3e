#include "command_line.hpp"

#include <lab/error.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace po = boost::program_options;

namespace lab::app {

po::variables_map parse_command_line(int argc, char** argv, const po::options_description& opts,
                                     const po::positional_options_description& positional,
                                     const std::string& command) {
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& err) {
    throw InputError(std::string(err.what()) + " (see " + command + " --help)");
  }
  return vm;
}

std::vector<std::string> strings_of(const po::variables_map& vm, const char* key) {
  return vm.count(key) ? vm[key].as<std::vector<std::string>>() : std::vector<std::string>{};
}

namespace {

// The deepest existing folder above `path` must be one lab may write in.
void check_parent_writable(const std::string& flag, const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::path existing = path.parent_path();
  while (!existing.empty() && !std::filesystem::exists(existing, ec)) existing = existing.parent_path();
  if (existing.empty()) existing = ".";
  if (!std::filesystem::is_directory(existing, ec))
    throw InputError(flag + " " + path.string() + ": " + existing.string() + " is a file, not a folder");
  if (::access(existing.c_str(), W_OK | X_OK) != 0)
    throw InputError(flag + " " + path.string() + ": cannot write in " + existing.string() + ": " +
                     std::strerror(errno));
}

}  // namespace

void check_output_file(const std::string& flag, const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw InputError(flag + " " + path + ": is a folder; name a file");
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec))
    throw InputError(flag + " " + path + ": the folder " + parent.string() + " does not exist");
  check_parent_writable(flag, path);
}

void check_output_dir(const std::string& flag, const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_directory(path, ec))
    throw InputError(flag + " " + path + ": is a file; name a folder");
  check_parent_writable(flag, std::filesystem::path(path) / "x");
}

Recipe recipe_of(const po::variables_map& vm) {
  Recipe recipe = Recipe::load(vm["recipe"].as<std::string>());
  if (vm.count("preset")) recipe.apply_preset(vm["preset"].as<std::string>());
  for (const auto& assignment : strings_of(vm, "set")) recipe.set(assignment);
  return recipe;
}

}  // namespace lab::app
