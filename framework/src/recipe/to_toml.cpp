// Writes resolved keys back as TOML, grouped into tables.
#include "recipe/config.hpp"

#include <sstream>

namespace lab {

namespace {
bool bare_key(const std::string& key) {
  for (char c : key)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return !key.empty();
}
std::string toml_key(const std::string& key) { return bare_key(key) ? key : Value::of(key).repr(); }
}  // namespace

std::string to_toml(const std::map<std::string, Entry>& entries) {
  std::ostringstream out;
  std::map<std::string, std::map<std::string, const Value*>> tables;  // section -> key -> value
  std::map<int64_t, std::map<std::string, const Value*>> stages;
  for (const auto& [key, entry] : entries) {
    auto dot = key.find('.');
    if (dot == std::string::npos) {
      out << toml_key(key) << " = " << entry.value.repr() << "\n";
      continue;
    }
    std::string section = key.substr(0, dot);
    std::string rest = key.substr(dot + 1);
    if (key.rfind("train.stages.", 0) == 0) {
      std::string tail = key.substr(13);
      auto d = tail.find('.');
      stages[std::stoll(tail.substr(0, d))][tail.substr(d + 1)] = &entry.value;
      continue;
    }
    tables[section][rest] = &entry.value;
  }
  for (const auto& [section, keys] : tables) {
    out << "\n[" << section << "]\n";
    for (const auto& [k, v] : keys) out << toml_key(k) << " = " << v->repr() << "\n";
  }
  for (const auto& [n, keys] : stages) {
    out << "\n[[train.stages]]\n";
    for (const auto& [k, v] : keys) out << toml_key(k) << " = " << v->repr() << "\n";
  }
  return out.str();
}

}  // namespace lab
