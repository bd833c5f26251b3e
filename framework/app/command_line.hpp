// Option parsing shared by the sub-commands.
#pragma once

#include "recipe/recipe.hpp"

#include <boost/program_options.hpp>

#include <string>
#include <vector>

namespace lab::app {

// Parses argv against `opts`; a bad flag becomes lab::InputError pointing at `command --help`.
boost::program_options::variables_map parse_command_line(
    int argc, char** argv, const boost::program_options::options_description& opts,
    const boost::program_options::positional_options_description& positional, const std::string& command);

// A repeatable string option's values ({} when absent).
std::vector<std::string> strings_of(const boost::program_options::variables_map& vm, const char* key);

// The recipe of the options "recipe", "preset" (when the command has it) and the repeatable "set",
// applied in that order.
Recipe recipe_of(const boost::program_options::variables_map& vm);

}  // namespace lab::app
