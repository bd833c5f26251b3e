// LibTorch archives written through lab's checked, synced file writes (LibTorch's own file writer
// throws from a destructor on a full disk, which aborts), and read with the file named in errors.
#pragma once

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <c10/util/Optional.h>
#include <filesystem>

namespace lab {

void save_archive(torch::serialize::OutputArchive& archive, const std::filesystem::path& file);

// Throws lab::InputError "FILE: cannot be read (REASON)" for a missing, truncated or foreign file.
void load_archive(torch::serialize::InputArchive& archive, const std::filesystem::path& file,
                  c10::optional<torch::Device> device = c10::nullopt);

}  // namespace lab
