// Where a resolved key was set, for messages about values validation could not judge alone.
#pragma once

#include "recipe/config.hpp"

#include <string>

namespace lab {

// "file:line: key" (or "--set: key", "default: key"): the prefix of a message about a value that
// only turned out wrong later (too long for the data, a device that is absent).
std::string where_set(const Config& config, const std::string& key);

}  // namespace lab
