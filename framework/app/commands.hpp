// Sub-commands of the lab program.
#pragma once

namespace lab::app {

// Parses argv, runs the command and returns the exit code; throws lab::InputError for bad input.
int dispatch(int argc, char** argv);

int run_train(int argc, char** argv);      // lab --recipe FILE ...
int run_plugins(int argc, char** argv);    // lab plugins [NAME]
int run_parity(int argc, char** argv);     // lab parity FILE...
int run_eval(int argc, char** argv);       // lab eval RUN_DIR
int run_params(int argc, char** argv);     // lab params --recipe FILE
int run_profile(int argc, char** argv);    // lab profile [options]
int run_bench(int argc, char** argv);      // lab bench RECIPE ...
int run_visualize(int argc, char** argv);  // lab visualize RUN_DIR
int run_sweep(int argc, char** argv);      // lab sweep RECIPE
int run_compare(int argc, char** argv);    // lab compare DIR...
int run_report(int argc, char** argv);     // lab report DIR...
int run_generate(int argc, char** argv);   // lab generate RUN_DIR --prompt TEXT
int run_export(int argc, char** argv);     // lab export RUN_DIR --format safetensors
int run_audit(int argc, char** argv);      // lab audit causality|data ...
int run_launch(int argc, char** argv);     // lab launch --nproc N -- <lab arguments>

// lab audit data ... (reached through run_audit)
int run_audit_data(int argc, char** argv);

}  // namespace lab::app
