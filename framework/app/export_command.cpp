// lab export RUN_DIR --format safetensors|onnx: a trained run's weights, or its whole model, for other
// tools.
#include "command_line.hpp"
#include "commands.hpp"

#include "run/export.hpp"
#include "run/export_onnx.hpp"
#include "run/load_run.hpp"

#include <lab/error.hpp>

#include <boost/program_options.hpp>

#include <iostream>

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace lab::app {

int run_export(int argc, char** argv) {
  po::options_description opts("lab export RUN_DIR --format safetensors|onnx [options]");
  opts.add_options()("help,h", "show this help")("run", po::value<std::string>(), "trained run folder")(
      "format,f", po::value<std::string>()->default_value("safetensors"),
      "output format: safetensors (weights) or onnx (the model)")(
      "out,o", po::value<std::string>(), "output folder (default: <RUN_DIR>/export)")(
      "plugin-path,P", po::value<std::vector<std::string>>()->composing(),
      "extra plugin folder (repeatable)");
  po::positional_options_description positional;
  positional.add("run", 1);
  auto vm = parse_command_line(argc, argv, opts, positional, "lab export");
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  if (!vm.count("run")) throw InputError("lab export: a run folder is required (see lab export --help)");
  const std::string format = vm["format"].as<std::string>();
  if (format != "safetensors" && format != "onnx")
    throw InputError("--format " + format + ": unknown format (choices: safetensors, onnx)");
  if (vm.count("out")) check_output_dir("--out", vm["out"].as<std::string>());
  LoadRunOptions load;
  if (vm.count("plugin-path")) load.plugin_paths = vm["plugin-path"].as<std::vector<std::string>>();
  LoadedRun run = load_run(vm["run"].as<std::string>(), load);
  const fs::path out = vm.count("out") ? fs::path(vm["out"].as<std::string>()) : run.dir / "export";
  if (format == "onnx") {
    export_onnx(run, out);
    std::cout << "wrote " << (out / "model.onnx").string() << " (sequences up to " << run.config.dims.seq_len
              << " tokens) and " << (out / "tokenizer.model").string() << "\n";
    return 0;
  }
  export_safetensors(run, out);
  std::cout << "wrote " << (out / "model.safetensors").string() << " and " << (out / "config.json").string()
            << "\n";
  return 0;
}

}  // namespace lab::app
