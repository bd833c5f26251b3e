// Starts the local ranks of a data-parallel run as new processes (fork + exec before any tensor work,
// never a bare fork of a process whose thread pools run), with torchrun's environment variables,
// forwards SIGINT/SIGTERM to them and waits for all.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace lab {

struct LaunchPlan {
  int nproc = 1;            // ranks on this machine
  int nnodes = 1;           // machines
  int node_rank = 0;        // this machine among them
  std::string master_addr;  // rank 0's machine
  int master_port = 0;
  std::filesystem::path program;  // the lab executable each rank runs
  std::vector<std::string> args;  // its arguments (after the program name)
  bool pin_cpus = true;           // give each local rank its own share of this process's CPUs
  int grace_seconds = 60;         // after a rank fails, how long the others get to stop on their own
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_local_port();

// Runs the plan; returns 0 when every rank exited 0, else the exit code of the first rank that
// failed (1 for one killed by a signal), after telling on stderr which rank it was.
int launch_ranks(const LaunchPlan& plan);

}  // namespace lab
