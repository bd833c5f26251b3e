// `lab sweep --vary key=v1,v2,...`: sweep axes from the command line, laid over the recipe's [sweep].
#pragma once

#include "recipe/recipe.hpp"

#include <string>

namespace lab {

// Adds (or replaces) the axis `sweep.<key>` of `recipe`. Values are comma-separated and each is read
// like a --set value (TOML, else a bare string); a TOML array ("[1, 2]") is taken whole. Their types
// are checked against the key when the sweep's runs are resolved, located at "--vary". Throws
// lab::InputError for text without "key=" or without values.
void apply_vary(Recipe& recipe, const std::string& assignment);

}  // namespace lab
