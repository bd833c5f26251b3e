#include "registry/messages.hpp"
#include "registry/registry.hpp"

#include <lab/error.hpp>

#include <algorithm>
#include <sstream>

namespace lab {

namespace {

using Row = std::vector<std::string>;

// Left-aligned columns two spaces apart; the last column is not padded.
std::string format_table(const std::vector<Row>& rows, const std::string& indent) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = indent;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(widths[c] - row[c].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string describe_one(const LoadedPlugin& plugin) {
  const PluginDescriptor& d = *plugin.descriptor;
  std::vector<Row> header = {
      {"name:", d.name},
      {"slot:", to_string(d.slot)},
      {"description:", d.description ? d.description : ""},
      {"file:", plugin.file.string()},
      {"ABI:", std::to_string(d.abi_version)},
      {"LibTorch:", d.torch_version},
  };
  std::string out = format_table(header, "");
  if (d.keys.empty()) return out + "keys: none\n";
  std::vector<Row> keys = {{"key", "type", "default", "doc"}};
  for (const auto& key : d.keys)
    keys.push_back({key.name, to_string(key.default_value.type), key.default_value.repr(), key.doc});
  return out + "keys:\n" + format_table(keys, "  ");
}

}  // namespace

std::string describe_plugins(const PluginRegistry& registry) {
  std::vector<const LoadedPlugin*> plugins = registry.all();
  if (plugins.empty()) return "no plugins found on the plugin search path\n";
  std::vector<Row> rows = {{"slot", "name", "description", "file"}};
  for (const LoadedPlugin* plugin : plugins) {
    const PluginDescriptor& d = *plugin->descriptor;
    rows.push_back({to_string(d.slot), d.name, d.description ? d.description : "", plugin->file.string()});
  }
  return format_table(rows, "");
}

std::string describe_plugin(const PluginRegistry& registry, const std::string& name) {
  std::vector<std::string> available;
  std::string out;
  // One name may serve several slots; describe every match.
  for (const LoadedPlugin* plugin : registry.all()) {
    available.push_back(plugin->descriptor->name);
    if (name != plugin->descriptor->name) continue;
    out += (out.empty() ? "" : "\n") + describe_one(*plugin);
  }
  if (!out.empty()) return out;
  std::sort(available.begin(), available.end());
  available.erase(std::unique(available.begin(), available.end()), available.end());
  throw InputError(detail::unknown_plugin_message("plugin", name, available));
}

}  // namespace lab
