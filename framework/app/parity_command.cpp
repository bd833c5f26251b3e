#include "command_line.hpp"
#include "commands.hpp"
#include "parity/parity.hpp"

#include <lab/error.hpp>

#include <iostream>

namespace po = boost::program_options;

namespace lab::app {

int run_parity(int argc, char** argv) {
  po::options_description opts("lab parity FILE... [options]");
  opts.add_options()("help,h", "show this help")("files", po::value<std::vector<std::string>>()->composing(),
                                                 "reference case files (.safetensors)")(
      "attention,a", po::value<std::string>()->default_value(""),
      "attention plugin to check (default: the one the case's kind names)")(
      "kernel,k", po::value<std::string>()->default_value("math"), "kernel plugin that computes the output")(
      "tolerance,t", po::value<double>()->default_value(1e-5), "largest max abs error that passes")(
      "plugin-path,P", po::value<std::vector<std::string>>()->composing(),
      "extra plugin folder (repeatable)");
  po::positional_options_description positional;
  positional.add("files", -1);
  auto vm = parse_command_line(argc, argv, opts, positional, "lab parity");
  if (vm.count("help")) {
    std::cout << opts
              << "\nPrints the max abs error of each tensor per file; exits 1 when one is above "
                 "tolerance.\n";
    return 0;
  }
  const auto files = strings_of(vm, "files");
  if (files.empty()) throw InputError("lab parity needs at least one FILE (see lab parity --help)");
  ParityOptions options;
  options.attention = vm["attention"].as<std::string>();
  options.kernel = vm["kernel"].as<std::string>();
  options.tolerance = vm["tolerance"].as<double>();
  if (!(options.tolerance >= 0)) throw InputError("--tolerance must not be negative");
  PluginRegistry registry;
  registry.load_directories(plugin_search_path(strings_of(vm, "plugin-path"), {}));
  bool all_passed = true;
  for (const auto& file : files) {
    ParityReport report = check_parity(file, registry, options);
    std::cout << file << "\n" << report.describe();
    all_passed = all_passed && report.passed();
  }
  return all_passed ? 0 : 1;
}

}  // namespace lab::app
