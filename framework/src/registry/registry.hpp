// Finds plugin libraries on the search path, loads them with Boost.DLL and checks their ABI.
#pragma once

#include <lab/plugin.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace lab {

struct LoadedPlugin {
  const PluginDescriptor* descriptor = nullptr;
  std::filesystem::path file;
};

class PluginRegistry {
 public:
  PluginRegistry();
  ~PluginRegistry();
  PluginRegistry(const PluginRegistry&) = delete;
  PluginRegistry& operator=(const PluginRegistry&) = delete;

  // Loads every lab_plugin_*.so in each directory, in order. A name already loaded from an earlier
  // directory keeps the earlier one and prints a warning naming both files. Throws lab::InputError
  // (one line naming the file) for a library that cannot be opened, lacks the entry point, or was
  // built for another plugin ABI or LibTorch version. Missing directories are skipped.
  void load_directories(const std::vector<std::filesystem::path>& dirs);
  void load_file(const std::filesystem::path& file);

  const LoadedPlugin* find(Slot slot, const std::string& name) const;
  // Like find, but throws lab::InputError "no <slot> plugin 'x' (available: a, b)".
  const PluginDescriptor& require(Slot slot, const std::string& name) const;
  std::vector<const LoadedPlugin*> all() const;  // sorted by slot, then name
  std::vector<std::string> names(Slot slot) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The search path, in priority order: command-line dirs, LAB_PLUGIN_PATH (':'-separated), the recipe's
// plugin_paths, then the defaults next to the program (build tree, then install tree).
std::vector<std::filesystem::path> plugin_search_path(const std::vector<std::string>& command_line,
                                                      const std::vector<std::string>& recipe_paths);

// `lab plugins` and `lab plugins NAME`.
std::string describe_plugins(const PluginRegistry& registry);
std::string describe_plugin(const PluginRegistry& registry, const std::string& name);

}  // namespace lab
