// A dataset plugin fed one fuzzed file: the plugin is loaded from the build's plugin folder, as the real
// program loads it, and asked for its documents.
#pragma once

#include "fuzz_support.hpp"

#include "registry/registry.hpp"

#include <lab/options.hpp>
#include <lab/plugin.hpp>

#include <lab_build_config.hpp>  // LAB_BUILD_DIR

#include <map>
#include <string>

namespace lab::fuzz {

inline const PluginDescriptor& dataset_plugin(const char* name) {
  static PluginRegistry* registry = [] {
    auto* loaded = new PluginRegistry();  // plugins stay loaded to the end
    loaded->load_directories({std::filesystem::path(LAB_BUILD_DIR) / "plugins"});
    return loaded;
  }();
  return registry->require(Slot::Dataset, name);
}

inline void read_dataset(const char* plugin, const std::string& file_name, const uint8_t* data, size_t size,
                         std::map<std::string, Value> options_set = {}) {
  const auto file = write_input(scratch_dir() / file_name, data, size);
  const PluginDescriptor& descriptor = dataset_plugin(plugin);
  options_set["path"] = Value::of(file.string());
  expect_clean_outcome(plugin, [&] {
    const Options options = default_options(descriptor, options_set);
    descriptor.make_dataset(options, DatasetContext{scratch_dir()})->documents();
  });
}

}  // namespace lab::fuzz
