// manifest.json of a checkpoint folder: the step and every file's size and FNV-1a hash. It is written
// last, so a folder without it was never finished; a file that differs from it was damaged.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lab {

void write_manifest(const std::filesystem::path& dir, const std::vector<std::string>& files, int64_t step);

struct CheckpointCheck {
  bool usable = false;
  bool has_manifest = false;  // checkpoints of older lab versions have none and are taken as they are
  int64_t step = -1;
  std::string problem;  // why it is not usable: "FILE: REASON"
};
// Reads every listed file back and compares it with the manifest. A folder without one is usable only
// when `accept_without_manifest` (a complete checkpoint of an older lab) and it has a state.json.
CheckpointCheck check_checkpoint(const std::filesystem::path& dir, bool accept_without_manifest);
// Empty when `file` matches its folder's manifest (or there is none), else what differs.
std::string check_against_manifest(const std::filesystem::path& file);

}  // namespace lab
