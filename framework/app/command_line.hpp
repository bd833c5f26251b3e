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

// For a flag naming a file or folder lab will write: throws lab::InputError naming the flag when the
// place cannot hold it (a missing or read-only folder, a folder where a file goes, or the reverse),
// before any work is done.
void check_output_file(const std::string& flag, const std::string& path);
void check_output_dir(const std::string& flag, const std::string& path);

}  // namespace lab::app
