// The resolved keys of one plugin section, and the problems a plugin can report about them.
#pragma once

#include <lab/value.hpp>

#include <map>
#include <string>
#include <vector>

namespace lab {

// One configuration key a plugin declares: `lab plugins NAME` prints these.
struct KeySpec {
  std::string name;
  Value default_value;  // its type is the key's type
  std::string doc;
};

// The values of one recipe section after defaults were filled in and types checked.
class Options {
 public:
  Options() = default;
  explicit Options(std::map<std::string, Value> values) : values_(std::move(values)) {}

  bool has(const std::string& key) const { return values_.count(key) != 0; }
  const Value& at(const std::string& key) const;
  bool get_bool(const std::string& key) const { return at(key).b; }
  int64_t get_int(const std::string& key) const { return at(key).i; }
  double get_float(const std::string& key) const { return at(key).as_float(); }
  const std::string& get_string(const std::string& key) const { return at(key).s; }
  const std::map<std::string, Value>& values() const { return values_; }

 private:
  std::map<std::string, Value> values_;
};

// A problem with one key; the recipe loader turns it into "file:line: section.key: message".
struct Problem {
  std::string key;  // key inside the plugin's section, or "section.key" for a core key
  std::string message;
};
using Problems = std::vector<Problem>;

}  // namespace lab

namespace lab {
struct PluginDescriptor;
// The plugin's declared defaults with `overrides` applied (no type checking: for tests and tools).
Options default_options(const PluginDescriptor& plugin, const std::map<std::string, Value>& overrides = {});
}  // namespace lab
