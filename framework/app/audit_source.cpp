#include "audit_source.hpp"

#include "command_line.hpp"

#include <lab/error.hpp>

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace lab::app {

void add_source_options(po::options_description& opts, po::positional_options_description& positional) {
  opts.add_options()("help,h", "show this help")("recipe,r", po::value<std::string>(), "TOML recipe")(
      "source", po::value<std::string>(), "recipe file or run folder")(
      "set,s", po::value<std::vector<std::string>>()->composing(),
      "override a key: section.key=value (repeatable)")(
      "plugin-path,P", po::value<std::vector<std::string>>()->composing(),
      "extra plugin folder (repeatable)")("json", "print the result as JSON");
  positional.add("source", 1);
}

AuditSource audit_source(const po::variables_map& vm, const std::string& command) {
  if (vm.count("recipe") && vm.count("source"))
    throw InputError(command + ": give either --recipe FILE or one FILE or RUN_DIR, not both");
  if (!vm.count("recipe") && !vm.count("source"))
    throw InputError(command + " needs --recipe FILE or a RUN_DIR (see " + command + " --help)");
  const fs::path given = vm.count("recipe") ? vm["recipe"].as<std::string>() : vm["source"].as<std::string>();
  AuditSource source;
  if (fs::is_directory(given)) {
    if (!fs::exists(given / "recipe.resolved.toml"))
      throw InputError(given.string() + ": not a run folder (no recipe.resolved.toml)");
    source.run_dir = given;
    source.recipe = Recipe::load(given / "recipe.resolved.toml");
  } else {
    source.recipe = Recipe::load(given);
  }
  for (const auto& assignment : strings_of(vm, "set")) source.recipe.set(assignment);
  return source;
}

}  // namespace lab::app
