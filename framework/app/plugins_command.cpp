#include "command_line.hpp"
#include "commands.hpp"

#include "registry/registry.hpp"

#include <lab/error.hpp>

#include <boost/program_options.hpp>

#include <iostream>

namespace po = boost::program_options;

namespace lab::app {

int run_plugins(int argc, char** argv) {
  po::options_description opts("lab plugins [NAME] [options]");
  opts.add_options()("help,h", "show this help")(
      "plugin-path,P", po::value<std::vector<std::string>>()->composing(),
      "extra plugin folder (repeatable)")("name", po::value<std::string>(), "plugin to describe");
  po::positional_options_description positional;
  positional.add("name", 1);
  auto vm = parse_command_line(argc, argv, opts, positional, "lab plugins");
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  std::vector<std::string> paths;
  if (vm.count("plugin-path")) paths = vm["plugin-path"].as<std::vector<std::string>>();
  PluginRegistry registry;
  registry.load_directories(plugin_search_path(paths, {}));
  if (vm.count("name"))
    std::cout << describe_plugin(registry, vm["name"].as<std::string>());
  else
    std::cout << describe_plugins(registry);
  return 0;
}

}  // namespace lab::app
