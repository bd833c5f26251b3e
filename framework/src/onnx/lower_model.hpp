// Lowering the language model to ONNX: the core's parts in lower_model.cpp, each slot through its
// plugin's export hook.
#pragma once

#include <lab/error.hpp>
#include <lab/onnx_graph.hpp>
#include <lab/router.hpp>

#include <string>

namespace lab {

// The plugin of each slot, to name the one that cannot be exported.
struct OnnxPluginNames {
  std::string attention, kernel, rope, sparse, router;
};

inline std::string onnx_refusal(const std::string& plugin) {
  return "plugin '" + plugin + "' cannot be exported to ONNX";
}

inline bool onnx_value_missing(const std::string& value) { return value.empty(); }
inline bool onnx_value_missing(const OnnxRouting& routing) {
  return routing.experts.empty() || routing.weights.empty();
}

// Runs one plugin's export hook: an empty result, or OnnxUnsupported, becomes lab::InputError naming it.
template <typename Hook>
auto lower_plugin(const std::string& plugin, Hook&& hook) {
  try {
    auto result = hook();
    if (onnx_value_missing(result)) throw InputError(onnx_refusal(plugin));
    return result;
  } catch (const OnnxUnsupported& e) {
    throw InputError(onnx_refusal(plugin) + ": " + e.what());
  }
}

}  // namespace lab
