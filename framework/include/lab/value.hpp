// Typed configuration values shared by recipes and plugin key declarations.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lab {

enum class ValueType { Bool, Int, Float, String, List };

const char* to_string(ValueType type);

// A small tagged value; lists hold scalars only (seeds, sweep values, stage groups).
struct Value {
  ValueType type = ValueType::String;
  bool b = false;
  int64_t i = 0;
  double f = 0.0;
  std::string s;
  std::vector<Value> list;

  static Value of(bool v);
  static Value of(int64_t v);
  static Value of(int v) { return of(static_cast<int64_t>(v)); }
  static Value of(double v);
  static Value of(const char* v) { return of(std::string(v)); }
  static Value of(std::string v);
  static Value of(std::vector<Value> v);

  // Floats accept integer literals; every other type must match exactly.
  bool fits(ValueType wanted) const;
  double as_float() const { return type == ValueType::Int ? static_cast<double>(i) : f; }
  // TOML-like text, used for resolved recipes and messages.
  std::string repr() const;
};

bool operator==(const Value& a, const Value& b);

}  // namespace lab
