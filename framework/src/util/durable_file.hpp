// Writes that either reach the disk whole or fail with a message: every error of write(), fsync()
// and close() is checked (a full disk is reported, not lost in a stream's destructor).
#pragma once

#include <filesystem>
#include <string_view>

namespace lab {

// Creates or replaces `file` with `bytes` and flushes it to the device; throws std::runtime_error
// naming the file and the system's reason ("No space left on device").
void write_durably(const std::filesystem::path& file, std::string_view bytes);

// Flushes a folder's entries (new names, renames) to the device.
void sync_directory(const std::filesystem::path& dir);

}  // namespace lab
