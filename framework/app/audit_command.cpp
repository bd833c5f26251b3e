// lab audit causality|data: checks that a recipe's model cannot see later tokens and that its
// validation numbers measure unseen text.
#include "audit_source.hpp"
#include "command_line.hpp"
#include "commands.hpp"

#include "audit/causality.hpp"
#include "audit/probe_config.hpp"
#include "registry/registry.hpp"
#include "run/files.hpp"
#include "run/load_run.hpp"

#include <lab/error.hpp>

#include <cstring>
#include <iostream>

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace lab::app {

namespace {

const char* kCausalityHelp =
    "\nCheck (a) changes the input at position j (several j, batch rows, initialisations, training and\n"
    "eval mode) and fails when anything before j moves: each plugin on its own (attention, kernel,\n"
    "rope, router, sparse in each stage mode) and the whole model (logits, every block's attention and\n"
    "MoE output, gradients of the loss before j with respect to the input embeddings and parameters).\n"
    "Check (b) trains the model on independent uniform tokens and fails when the validation loss drops\n"
    "more than 0.05 nats below ln V. With a RUN_DIR the run's trained weights are probed too and the\n"
    "result is written to RUN_DIR/audit.json, which lab compare reads.\n"
    "Exit status: 0 all checks pass, 1 a check fails, 2 bad input. See docs/audit.md.\n";

// The run's trained model, for the exact probe of its weights.
ModelFactory trained_model(const fs::path& dir, const po::variables_map& vm,
                           std::shared_ptr<LoadedRun>& keep) {
  if (!fs::exists(dir / "checkpoint" / "model.pt")) return nullptr;
  keep = std::make_shared<LoadedRun>(load_run(dir, {strings_of(vm, "set"), strings_of(vm, "plugin-path")}));
  return [keep](size_t) { return keep->model; };
}

int run_causality(int argc, char** argv) {
  po::options_description opts("lab audit causality (--recipe FILE | RUN_DIR) [options]");
  po::positional_options_description positional;
  add_source_options(opts, positional);
  opts.add_options()("exact-only", "skip the learning check (b)")(
      "steps", po::value<int64_t>()->default_value(200), "training steps of the learning check");
  auto vm = parse_command_line(argc, argv, opts, positional, "lab audit causality");
  if (vm.count("help")) {
    std::cout << opts << kCausalityHelp;
    return 0;
  }
  const AuditSource source = audit_source(vm, "lab audit causality");
  if (vm["steps"].as<int64_t>() < 1) throw InputError("--steps must be at least 1");
  PluginRegistry registry;
  const ProbeSetup setup = probe_setup(source.recipe, strings_of(vm, "plugin-path"), registry);
  std::shared_ptr<LoadedRun> run;
  const ModelFactory trained = source.is_run() ? trained_model(source.run_dir, vm, run) : nullptr;

  CausalityAudit audit;
  audit.shape = shape_lines(setup.shape);
  const Config& config = setup.config;
  audit.exact = exact_checks(
      config, ProbePlan::full(config.dims.seq_len, config.init_std, config.dims.d_model), trained);
  if (!vm.count("exact-only")) {
    LearningOptions options;
    options.steps = vm["steps"].as<int64_t>();
    for (const auto& mode : sparse_modes(config))
      audit.learning.push_back(learning_check(config, mode, options));
  }
  const nlohmann::json json = causality_json(audit);
  if (source.is_run())
    write_file_atomic(source.run_dir / "audit.json", nlohmann::json{{"causality", json}}.dump(2) + "\n");
  if (vm.count("json"))
    std::cout << json.dump(2) << "\n";
  else
    std::cout << "lab audit causality: " << (source.is_run() ? source.run_dir : source.recipe.file()).string()
              << "\n"
              << causality_text(audit);
  return audit.passed() ? 0 : 1;
}

}  // namespace

int run_audit(int argc, char** argv) {
  const std::string what = argc >= 2 ? argv[1] : "";
  if (what == "causality") return run_causality(argc - 1, argv + 1);
  if (what == "data") return run_audit_data(argc - 1, argv + 1);
  if (what == "--help" || what == "-h") {
    std::cout
        << "lab audit causality (--recipe FILE | RUN_DIR) [--set k=v]... [--plugin-path DIR]... [--json]\n"
           "lab audit data (--recipe FILE | RUN_DIR) [--set k=v]... [--json]\n"
           "run `lab audit causality --help` or `lab audit data --help` for details\n";
    return 0;
  }
  throw InputError("lab audit: say what to audit: causality or data" +
                   (what.empty() ? std::string() : ", not '" + what + "'") + " (see lab audit --help)");
}

}  // namespace lab::app
