#include "command_line.hpp"

#include <lab/error.hpp>

namespace po = boost::program_options;

namespace lab::app {

po::variables_map parse_command_line(int argc, char** argv, const po::options_description& opts,
                                     const po::positional_options_description& positional,
                                     const std::string& command) {
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& err) {
    throw InputError(std::string(err.what()) + " (see " + command + " --help)");
  }
  return vm;
}

std::vector<std::string> strings_of(const po::variables_map& vm, const char* key) {
  return vm.count(key) ? vm[key].as<std::vector<std::string>>() : std::vector<std::string>{};
}

Recipe recipe_of(const po::variables_map& vm) {
  Recipe recipe = Recipe::load(vm["recipe"].as<std::string>());
  if (vm.count("preset")) recipe.apply_preset(vm["preset"].as<std::string>());
  for (const auto& assignment : strings_of(vm, "set")) recipe.set(assignment);
  return recipe;
}

}  // namespace lab::app
