// Errors lab reports as one line: InputError (bad recipe, data, plugin or flag) exits with code 2.
#pragma once

#include <stdexcept>
#include <string>

namespace lab {

class InputError : public std::runtime_error {
 public:
  explicit InputError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace lab
