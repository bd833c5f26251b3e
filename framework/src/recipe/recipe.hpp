// A recipe as written: TOML files (with `extends`) and --set overrides, flattened to dotted keys that
// remember where each value came from.
#pragma once

#include <lab/value.hpp>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace lab {

struct Location {
  std::string file;  // recipe file, "--set", or "" for a built-in default
  int64_t line = 0;
  std::string str() const;  // "file:line", "file", "--set" or "default"
};

struct Entry {
  Value value;
  Location where;
};

class Recipe {
 public:
  // Reads `file` and the chain of files it extends. Throws lab::InputError for unreadable files,
  // TOML syntax errors (with line and column), extends cycles and nested arrays.
  static Recipe load(const std::filesystem::path& file);
  // An empty recipe (all defaults), for tools and tests.
  static Recipe empty(const std::string& name = "");
  // Parses and applies "section.key=value". The value is TOML (1, 2.5, true, "x", [1, 2]); anything
  // that is not valid TOML is taken as a bare string, so --set attention.plugin=mla works.
  void set(const std::string& assignment);
  // A --set value as `set` reads it: TOML when it parses (an inline table or nested array throws
  // lab::InputError naming `key`), else the text as a string.
  static Value parse_value(const std::string& key, const std::string& text);
  // Lays the overrides of [presets.<name>] over the recipe (after `extends`, before --set). Throws
  // lab::InputError naming the available presets when `name` is not one of them.
  void apply_preset(const std::string& name);
  std::vector<std::string> preset_names() const;
  // Sets or removes one key directly (sweeps use these to lay a variant over a recipe).
  void assign(const std::string& key, Entry entry) { entries_[key] = std::move(entry); }
  void erase(const std::string& key) { entries_.erase(key); }

  const std::filesystem::path& file() const { return file_; }
  const std::map<std::string, Entry>& entries() const { return entries_; }
  const Entry* find(const std::string& key) const;
  Location where(const std::string& key) const;  // the top file when the key is not set

 private:
  friend class RecipeLoader;
  // Lays `entries` over this recipe; a [[table array]] given in `entries` replaces the old one whole.
  void overlay(const std::map<std::string, Entry>& entries, const std::set<std::string>& table_arrays);

  std::filesystem::path file_;
  std::map<std::string, Entry> entries_;
  std::set<std::string> table_arrays_;  // keys such as "train.stages" given as [[...]]
  struct Preset {
    std::map<std::string, Entry> entries;  // keys without the "presets.<name>." prefix
    std::set<std::string> table_arrays;
  };
  std::map<std::string, Preset> presets_;  // a file's presets replace its base's key by key
};

}  // namespace lab
