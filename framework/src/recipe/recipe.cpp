#include "recipe/recipe.hpp"

#include <lab/error.hpp>

#include <toml++/toml.h>

namespace lab {

namespace fs = std::filesystem;

std::string Location::str() const {
  if (file.empty()) return "default";
  if (line <= 0) return file;
  return file + ":" + std::to_string(line);
}

namespace {

// Turns a TOML document into dotted keys: tables nest with '.', [[arrays of tables]] number their
// elements (train.stages.0.steps), arrays of scalars become list values.
struct Flattener {
  std::string file;
  std::map<std::string, Entry>* out;
  std::set<std::string>* table_arrays;

  Location at(const toml::node& node) const {
    return Location{file, static_cast<int64_t>(node.source().begin.line)};
  }

  Value scalar(const toml::node& node, const std::string& key) const {
    if (auto v = node.as_boolean()) return Value::of(v->get());
    if (auto v = node.as_integer()) return Value::of(static_cast<int64_t>(v->get()));
    if (auto v = node.as_floating_point()) return Value::of(v->get());
    if (auto v = node.as_string()) return Value::of(v->get());
    throw InputError(at(node).str() + ": " + key +
                     ": dates, times, inline tables and nested arrays are not recipe values");
  }

  void table(const toml::table& tbl, const std::string& prefix) {
    for (const auto& [k, node] : tbl) {
      std::string name(k.str());
      visit(node, prefix.empty() ? name : prefix + "." + name);
    }
  }

  void visit(const toml::node& node, const std::string& key) {
    if (auto tbl = node.as_table()) return table(*tbl, key);
    if (auto arr = node.as_array()) {
      if (!arr->empty() && arr->is_array_of_tables()) {
        table_arrays->insert(key);
        for (size_t n = 0; n < arr->size(); ++n)
          table(*arr->get(n)->as_table(), key + "." + std::to_string(n));
        return;
      }
      std::vector<Value> items;
      for (const auto& item : *arr) items.push_back(scalar(item, key));
      (*out)[key] = Entry{Value::of(std::move(items)), at(node)};
      return;
    }
    (*out)[key] = Entry{scalar(node, key), at(node)};
  }
};

toml::table parse_toml_file(const fs::path& file) {
  try {
    return toml::parse_file(file.string());
  } catch (const toml::parse_error& err) {
    const auto& where = err.source().begin;
    throw InputError(file.string() + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) +
                     ": TOML syntax error: " + std::string(err.description()));
  }
}

}  // namespace

class RecipeLoader {
 public:
  // Recipes a chain of `extends` may hold: deep enough for any real layering, bounded so a runaway
  // chain is reported at once.
  static constexpr size_t kMaxExtendsDepth = 64;

  // Removes the [presets] table from `tbl` and flattens each preset's overrides on their own.
  static std::map<std::string, Recipe::Preset> take_presets(toml::table& tbl, const fs::path& file) {
    std::map<std::string, Recipe::Preset> presets;
    auto node = tbl.get("presets");
    if (!node) return presets;
    auto line_of = [&](const toml::node& n) {
      return file.string() + ":" + std::to_string(n.source().begin.line);
    };
    auto* all = node->as_table();
    if (!all) throw InputError(line_of(*node) + ": presets: expected tables such as [presets.cpu.model]");
    for (const auto& [name, body] : *all) {
      auto* tables = body.as_table();
      if (!tables)
        throw InputError(line_of(body) + ": presets." + std::string(name.str()) +
                         ": expected a table of overrides such as [presets." + std::string(name.str()) +
                         ".train]");
      Recipe::Preset& preset = presets[std::string(name.str())];
      Flattener{file.string(), &preset.entries, &preset.table_arrays}.table(*tables, "");
    }
    tbl.erase("presets");
    return presets;
  }

  static Recipe load(const fs::path& file, std::vector<fs::path>& chain) {
    std::error_code ec;
    const std::string by = chain.empty() ? "" : " (extended by " + chain.back().string() + ")";
    if (!fs::exists(file, ec)) throw InputError(file.string() + ": recipe not found" + by);
    if (fs::is_directory(file, ec))
      throw InputError(file.string() + ": is a directory, not a recipe file" + by);
    if (!fs::is_regular_file(file, ec))
      throw InputError(file.string() + ": not a regular file (a recipe is a TOML file)" + by);
    if (chain.size() >= kMaxExtendsDepth)
      throw InputError(chain.back().string() + ": extends: more than " + std::to_string(kMaxExtendsDepth) +
                       " recipes deep (a chain this long is a mistake)");
    fs::path canonical = fs::weakly_canonical(file, ec);
    for (const auto& seen : chain)
      if (fs::weakly_canonical(seen, ec) == canonical)
        throw InputError(chain.back().string() + ": extends: `" + file.string() + "` forms a cycle");
    chain.push_back(file);

    toml::table tbl = parse_toml_file(file);
    std::string base;
    if (auto ext = tbl.get("extends")) {
      auto text = ext->value<std::string>();
      if (!text)
        throw InputError(file.string() + ":" + std::to_string(ext->source().begin.line) +
                         ": extends: expected a string (the path of another recipe)");
      base = *text;
      if (base.empty())
        throw InputError(file.string() + ":" + std::to_string(ext->source().begin.line) +
                         ": extends: empty (name the recipe this one builds on, or remove the key)");
      tbl.erase("extends");
    }
    std::map<std::string, Recipe::Preset> presets = take_presets(tbl, file);
    std::map<std::string, Entry> entries;
    std::set<std::string> arrays;
    Flattener{file.string(), &entries, &arrays}.table(tbl, "");

    Recipe out = Recipe::empty();
    if (!base.empty()) {
      fs::path base_path = fs::path(base).is_absolute() ? fs::path(base) : file.parent_path() / base;
      out = load(base_path, chain);
    }
    out.overlay(entries, arrays);
    for (auto& [name, preset] : presets) {
      Recipe::Preset& into = out.presets_[name];
      for (const auto& array : preset.table_arrays) {
        std::string prefix = array + ".";
        for (auto it = into.entries.begin(); it != into.entries.end();)
          it = it->first.rfind(prefix, 0) == 0 ? into.entries.erase(it) : std::next(it);
        into.table_arrays.insert(array);
      }
      for (auto& [key, entry] : preset.entries) into.entries[key] = entry;
    }
    out.file_ = file;
    chain.pop_back();
    return out;
  }
};

Recipe Recipe::load(const fs::path& file) {
  std::vector<fs::path> chain;
  return RecipeLoader::load(file, chain);
}

Recipe Recipe::empty(const std::string& name) {
  Recipe recipe;
  recipe.file_ = name;
  return recipe;
}

void Recipe::overlay(const std::map<std::string, Entry>& entries, const std::set<std::string>& table_arrays) {
  for (const auto& array : table_arrays) {
    std::string prefix = array + ".";
    for (auto it = entries_.begin(); it != entries_.end();)
      it = it->first.rfind(prefix, 0) == 0 ? entries_.erase(it) : std::next(it);
    table_arrays_.insert(array);
  }
  for (const auto& [key, entry] : entries) entries_[key] = entry;
}

Value Recipe::parse_value(const std::string& key, const std::string& text) {
  Value value = Value::of(text);
  try {
    toml::table tbl = toml::parse("v = " + text);
    std::map<std::string, Entry> parsed;
    std::set<std::string> arrays;
    Flattener{"--set", &parsed, &arrays}.visit(*tbl.get("v"), key);
    if (parsed.size() == 1 && parsed.begin()->first == key) value = parsed.begin()->second.value;
  } catch (const toml::parse_error& err) {
    // Not TOML: a bare word, taken as a string; but text that opens a string, array or table and does
    // not close it is a typo, not a word.
    const size_t first = text.find_first_not_of(" \t");
    if (first != std::string::npos && std::string("\"'[{").find(text[first]) != std::string::npos)
      throw InputError("--set " + key + "=" + text + ": not a valid TOML value (" +
                       std::string(err.description()) + ")");
  }
  return value;
}

void Recipe::set(const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError("--set " + assignment + ": expected section.key=value");
  std::string key = assignment.substr(0, eq);
  while (!key.empty() && key.back() == ' ') key.pop_back();
  entries_[key] = Entry{parse_value(key, assignment.substr(eq + 1)), Location{"--set", 0}};
}

void Recipe::apply_preset(const std::string& name) {
  auto it = presets_.find(name);
  if (it == presets_.end()) {
    std::string names;
    for (const auto& [known, preset] : presets_) names += (names.empty() ? "" : ", ") + known;
    throw InputError(file_.string() + ": --preset " + name + ": no such preset (" +
                     (names.empty() ? std::string("this recipe defines none") : "available: " + names) + ")");
  }
  overlay(it->second.entries, it->second.table_arrays);
}

std::vector<std::string> Recipe::preset_names() const {
  std::vector<std::string> names;
  for (const auto& [name, preset] : presets_) names.push_back(name);
  return names;
}

const Entry* Recipe::find(const std::string& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

Location Recipe::where(const std::string& key) const {
  if (const Entry* entry = find(key)) return entry->where;
  return Location{file_.string(), 0};
}

}  // namespace lab
