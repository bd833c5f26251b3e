// The safetensors format (8-byte header length, JSON header, raw little-endian data), read and written.
#pragma once

#include <torch/types.h>

#include <filesystem>
#include <map>
#include <string>

namespace lab {

struct SafeTensors {
  std::map<std::string, torch::Tensor> tensors;  // contiguous CPU tensors
  std::map<std::string, std::string> metadata;   // the header's "__metadata__" (strings only)
};

// Throws lab::InputError naming the file and what is wrong (truncated, bad header, unknown dtype,
// offsets outside the data, sizes that do not match shapes).
SafeTensors read_safetensors(const std::filesystem::path& file);

// Writes atomically (temporary file, then rename); tensors are moved to the CPU and made contiguous.
void write_safetensors(const std::filesystem::path& file, const std::map<std::string, torch::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace lab
