// Levenshtein distance, for did-you-mean suggestions after a typo.
#pragma once

#include <string>

namespace lab {

size_t edit_distance(const std::string& a, const std::string& b);

}  // namespace lab
