#include <lab/error.hpp>
#include <lab/forward_state.hpp>
#include <lab/options.hpp>
#include <lab/plugin.hpp>
#include <lab/value.hpp>

#include <cmath>
#include <iomanip>
#include <sstream>

namespace lab {

const char* to_string(ValueType type) {
  switch (type) {
    case ValueType::Bool:
      return "boolean";
    case ValueType::Int:
      return "integer";
    case ValueType::Float:
      return "float";
    case ValueType::String:
      return "string";
    case ValueType::List:
      return "array";
  }
  return "?";
}

const char* to_string(Slot slot) {
  switch (slot) {
    case Slot::Attention:
      return "attention";
    case Slot::Kernel:
      return "kernel";
    case Slot::Sparse:
      return "sparse";
    case Slot::Rope:
      return "rope";
    case Slot::Router:
      return "router";
    case Slot::Dataset:
      return "dataset";
  }
  return "?";
}

Value Value::of(bool v) {
  Value out;
  out.type = ValueType::Bool;
  out.b = v;
  return out;
}
Value Value::of(int64_t v) {
  Value out;
  out.type = ValueType::Int;
  out.i = v;
  return out;
}
Value Value::of(double v) {
  Value out;
  out.type = ValueType::Float;
  out.f = v;
  return out;
}
Value Value::of(std::string v) {
  Value out;
  out.type = ValueType::String;
  out.s = std::move(v);
  return out;
}
Value Value::of(std::vector<Value> v) {
  Value out;
  out.type = ValueType::List;
  out.list = std::move(v);
  return out;
}

bool Value::fits(ValueType wanted) const {
  return type == wanted || (wanted == ValueType::Float && type == ValueType::Int);
}

static std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string Value::repr() const {
  switch (type) {
    case ValueType::Bool:
      return b ? "true" : "false";
    case ValueType::Int:
      return std::to_string(i);
    case ValueType::Float: {
      if (std::isinf(f)) return f > 0 ? "inf" : "-inf";
      if (std::isnan(f)) return "nan";
      std::ostringstream os;
      os << std::setprecision(17) << f;
      std::string text = os.str();
      // Keep it a TOML float.
      if (text.find_first_of(".eE") == std::string::npos) text += ".0";
      // Shortest text that reads back exactly.
      for (int digits = 1; digits <= 17; ++digits) {
        std::ostringstream shorter;
        shorter << std::setprecision(digits) << f;
        if (std::stod(shorter.str()) == f) {
          text = shorter.str();
          if (text.find_first_of(".eE") == std::string::npos) text += ".0";
          break;
        }
      }
      return text;
    }
    case ValueType::String:
      return quote(s);
    case ValueType::List: {
      std::string out = "[";
      for (size_t n = 0; n < list.size(); ++n) out += (n ? ", " : "") + list[n].repr();
      return out + "]";
    }
  }
  return "";
}

bool operator==(const Value& a, const Value& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case ValueType::Bool:
      return a.b == b.b;
    case ValueType::Int:
      return a.i == b.i;
    case ValueType::Float:
      return a.f == b.f;
    case ValueType::String:
      return a.s == b.s;
    case ValueType::List:
      return a.list == b.list;
  }
  return false;
}

const Value& Options::at(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) throw std::logic_error("option '" + key + "' was not declared by the plugin");
  return it->second;
}

void ForwardState::add_loss(const std::string& name, const torch::Tensor& loss) {
  auto it = aux_losses.find(name);
  if (it == aux_losses.end())
    aux_losses[name] = loss;
  else
    it->second = it->second + loss;
}

}  // namespace lab

namespace lab {
Options default_options(const PluginDescriptor& plugin, const std::map<std::string, Value>& overrides) {
  std::map<std::string, Value> values;
  for (const auto& key : plugin.keys) values[key.name] = key.default_value;
  for (const auto& [name, value] : overrides) values[name] = value;
  return Options(std::move(values));
}
}  // namespace lab
