#include "sweep/vary.hpp"

#include <lab/error.hpp>

#include <vector>

namespace lab {

namespace {

std::string trimmed(const std::string& text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

std::vector<Value> values_of(const std::string& key, const std::string& text) {
  if (!text.empty() && text.front() == '[') {
    Value whole = Recipe::parse_value(key, text);
    if (whole.type == ValueType::List) return whole.list;
  }
  std::vector<Value> values;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string item = trimmed(text.substr(start, comma - start));
    if (item.empty())
      throw InputError("--vary " + key + "=" + text + ": empty value (expected " + key + "=v1,v2,...)");
    values.push_back(Recipe::parse_value(key, item));
    start = comma + 1;
  }
  return values;
}

}  // namespace

void apply_vary(Recipe& recipe, const std::string& assignment) {
  const auto eq = assignment.find('=');
  const std::string key = trimmed(assignment.substr(0, eq));
  if (eq == std::string::npos || key.empty())
    throw InputError("--vary " + assignment + ": expected section.key=v1,v2,...");
  const std::string text = trimmed(assignment.substr(eq + 1));
  if (text.empty()) throw InputError("--vary " + assignment + ": no values (expected " + key + "=v1,v2,...)");
  recipe.assign("sweep." + key, Entry{Value::of(values_of(key, text)), Location{"--vary", 0}});
}

}  // namespace lab
