// Checks an attention plugin and a RoPE plugin against reference outputs stored as safetensors:
// `input`, `output`, `attention_probs`, `rope_cos`, `rope_sin`, `param.<name>`, and the case's JSON
// configuration in the metadata entry `case` (DeepSeek's names: hidden_size, num_heads, rope_scaling...).
#pragma once

#include "registry/registry.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace lab {

struct ParityOptions {
  std::string attention;  // attention plugin; "" picks the one the case's kind names (mla_attention: mla)
  std::string kernel = "math";  // kernel slot that computes the output (probabilities come from the math)
  double tolerance = 1e-5;      // max abs error allowed for every tensor
};

struct TensorError {
  std::string name;
  std::vector<int64_t> shape;
  double max_abs_error = 0;
};

struct ParityReport {
  std::string case_name;
  std::string attention, rope, kernel;  // the plugins that ran
  std::vector<TensorError> errors;      // output, attention_probs, rope_cos, rope_sin, softmax_scale
  double tolerance = 0;
  bool passed() const;
  std::string describe() const;  // the table `lab parity` prints
};

// Throws lab::InputError for files that are not reference cases, or whose configuration or
// parameters the plugins cannot take (naming the file and the key or parameter).
ParityReport check_parity(const std::filesystem::path& file, const PluginRegistry& registry,
                          const ParityOptions& options = {});

}  // namespace lab
