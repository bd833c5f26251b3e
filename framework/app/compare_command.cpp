// lab compare DIR...: one comparison of the finished runs under the folders.
#include "command_line.hpp"
#include "commands.hpp"

#include "compare/comparison.hpp"
#include "compare/report.hpp"
#include "report/report_page.hpp"

#include <lab/error.hpp>

#include <boost/program_options.hpp>

#include <iostream>

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace lab::app {

int run_compare(int argc, char** argv) {
  po::options_description opts("lab compare DIR... [options]");
  opts.add_options()("help,h", "show this help")("dirs", po::value<std::vector<std::string>>()->composing(),
                                                 "run, variant or experiment folders")(
      "out,o", po::value<std::string>(), "folder of the comparison files (default: <first DIR>/comparison)")(
      "baseline,b", po::value<std::string>(),
      "variant the others are tested against (default: 'baseline' or the first)");
  po::positional_options_description positional;
  positional.add("dirs", -1);
  auto vm = parse_command_line(argc, argv, opts, positional, "lab compare");
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  if (!vm.count("dirs"))
    throw InputError("lab compare: give at least one run folder (see lab compare --help)");
  if (vm.count("out")) check_output_dir("--out", vm["out"].as<std::string>());
  std::vector<fs::path> dirs;
  for (const auto& d : vm["dirs"].as<std::vector<std::string>>()) dirs.emplace_back(d);
  Comparison c = compare_runs(find_runs(dirs), vm.count("baseline") ? vm["baseline"].as<std::string>() : "");
  const fs::path out = vm.count("out") ? fs::path(vm["out"].as<std::string>()) : dirs.front() / "comparison";
  write_comparison(c, out);
  write_report(c, dirs, out / "report.html");
  std::cout << comparison_markdown(c) << "\nwrote " << (out / "comparison.md").string()
            << ", comparison.csv, comparison.json, report.html and plots\n";
  return 0;
}

}  // namespace lab::app
