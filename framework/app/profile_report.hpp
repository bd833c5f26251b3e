// `lab profile` output: the table on stdout, profile.json and profile.png in the output folder.
#pragma once

#include "profile_measure.hpp"

#include <filesystem>
#include <ostream>
#include <vector>

namespace lab::app {

void print_profile_table(const ProfileShape& shape, const std::vector<ProfileRow>& rows, std::ostream& out);

// Writes DIR/profile.json (through a temporary file, so a failed run leaves no partial JSON) and
// DIR/profile.png (time and memory against length; skipped with a warning when gnuplot is missing).
void write_profile_outputs(const ProfileShape& shape, const std::vector<ProfileRow>& rows,
                           const std::filesystem::path& dir);

}  // namespace lab::app
