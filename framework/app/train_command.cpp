#include "command_line.hpp"
#include "commands.hpp"

#include "recipe/config.hpp"
#include "recipe/recipe.hpp"
#include "registry/registry.hpp"
#include "train/run_folder_checks.hpp"
#include "train/trainer.hpp"

#include <lab/error.hpp>

#include <boost/program_options.hpp>

#include <filesystem>
#include <iostream>

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace lab::app {

int run_train(int argc, char** argv) {
  po::options_description opts("lab --recipe FILE [options]");
  opts.add_options()("help,h", "show this help")("recipe,r", po::value<std::string>(),
                                                 "TOML recipe to train")(
      "preset", po::value<std::string>(), "apply the recipe's [presets.NAME] overrides (before --set)")(
      "set,s", po::value<std::vector<std::string>>()->composing(),
      "override a key: section.key=value (repeatable)")("plugin-path,P",
                                                        po::value<std::vector<std::string>>()->composing(),
                                                        "extra plugin folder (repeatable)")(
      "resume", "continue the run from its checkpoint")("overwrite", "replace an existing run folder")(
      "stop-after", po::value<int64_t>()->default_value(0), "stop with a checkpoint after N steps")(
      "dry-run", "validate the recipe and print it resolved; train nothing")("quiet,q", "no progress output");
  auto vm = parse_command_line(argc, argv, opts, po::positional_options_description(), "lab");
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  if (!vm.count("recipe")) throw InputError("--recipe FILE is required (see lab --help)");
  if (vm.count("resume") && vm.count("overwrite"))
    throw InputError("--resume and --overwrite exclude each other");
  if (vm["stop-after"].as<int64_t>() < 0) throw InputError("--stop-after must not be negative");

  PluginRegistry registry;
  Config config = resolve_config(recipe_of(vm), strings_of(vm, "plugin-path"), registry);
  if (vm.count("dry-run")) {
    std::cout << to_toml(config.resolved);
    return 0;
  }
  TrainOptions options;
  options.resume = vm.count("resume") != 0;
  options.overwrite = vm.count("overwrite") != 0;
  options.stop_after = vm["stop-after"].as<int64_t>();
  options.quiet = vm.count("quiet") != 0;
  check_run_folder_writable(config);
  prepare_resume(config, options);
  const fs::path dir = run_directory(config);
  const bool existed = fs::exists(dir);
  const fs::path existing = existing_part(dir);
  try {
    RunResult result = train(config, options);
    return result.finished ? 0 : 3;
  } catch (...) {
    // A new run that failed (a diverging loss, a full disk) leaves nothing it cannot resume from.
    if (!existed || options.overwrite) discard_failed_run(dir, existing);
    throw;
  }
}

}  // namespace lab::app
