// Fuzz target: a recipe as `lab train` reads it. The input is the recipe's TOML; its lines
// "#preset NAME" and "#set KEY=VALUE" (comments to the TOML parser) are applied as --preset and --set.
// The file sits beside copies of the project's recipes, so `extends` reaches real bases. A recipe that
// resolves must also write a recipe.resolved.toml that loads again.
#include "fuzz_support.hpp"

#include "recipe/config.hpp"
#include "recipe/recipe.hpp"
#include "registry/registry.hpp"

#include <lab_build_config.hpp>  // LAB_SOURCE_DIR, LAB_BUILD_DIR

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

const fs::path& recipe_dir() {
  static const fs::path dir = [] {
    const fs::path copy = lab::fuzz::scratch_dir() / "recipes";
    fs::copy(fs::path(LAB_SOURCE_DIR) / "recipes", copy, fs::copy_options::recursive);
    return copy;
  }();
  return dir;
}

lab::PluginRegistry& registry() {
  static lab::PluginRegistry* loaded = new lab::PluginRegistry();  // plugins stay loaded to the end
  return *loaded;
}

const std::vector<std::string>& plugin_dirs() {
  static const std::vector<std::string> dirs = {std::string(LAB_BUILD_DIR) + "/plugins"};
  return dirs;
}

void run(const std::string& text) {
  const fs::path file = recipe_dir() / "fuzz_input.toml";
  lab::fuzz::write_input(file, reinterpret_cast<const uint8_t*>(text.data()), text.size());
  lab::Recipe recipe = lab::Recipe::load(file);
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("#preset ", 0) == 0) recipe.apply_preset(line.substr(8));
    if (line.rfind("#set ", 0) == 0) recipe.set(line.substr(5));
  }
  const lab::Config config = lab::resolve_config(recipe, plugin_dirs(), registry());

  const fs::path resolved = recipe_dir() / "fuzz_resolved.toml";
  const std::string toml = lab::to_toml(config.resolved);
  lab::fuzz::write_input(resolved, reinterpret_cast<const uint8_t*>(toml.data()), toml.size());
  try {
    lab::Recipe::load(resolved);
  } catch (const lab::InputError& e) {
    std::fprintf(stderr, "lab fuzz recipe: the resolved recipe does not load again: %s\n%s\n", e.what(),
                 toml.c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  lab::fuzz::expect_clean_outcome("recipe", [&] { run(text); });
  return 0;
}
