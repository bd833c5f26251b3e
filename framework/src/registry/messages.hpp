// Wording shared by the registry and `lab plugins NAME`, so an unknown name reads the same in both.
#pragma once

#include <string>
#include <vector>

namespace lab::detail {

// "no <what> '<name>'; did you mean 'x'? (available: a, b)".
std::string unknown_plugin_message(const std::string& what, const std::string& name,
                                   const std::vector<std::string>& available);

}  // namespace lab::detail
