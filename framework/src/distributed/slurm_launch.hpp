// An sbatch script for one data-parallel run: one lab process per Slurm task, started by srun, with
// torchrun's variables taken from the allocation.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace lab {

struct SlurmRun {
  std::string job_name = "lab";
  int nodes = 1;
  int tasks_per_node = 1;
  int master_port = 29500;
  std::filesystem::path workdir;    // where the recipe's relative paths start
  std::filesystem::path program;    // lab
  std::vector<std::string> args;    // lab's arguments
  std::vector<std::string> sbatch;  // extra "#SBATCH" options, e.g. "--gres=gpu:4"
};

std::string slurm_run_script(const SlurmRun& run);

}  // namespace lab
