#include "distributed/slurm_launch.hpp"

#include "sweep/slurm.hpp"

namespace lab {

std::string slurm_run_script(const SlurmRun& run) {
  std::string s = "#!/bin/bash\n";
  s += "#SBATCH --job-name=" + run.job_name + "\n";
  s += "#SBATCH --nodes=" + std::to_string(run.nodes) + "\n";
  s += "#SBATCH --ntasks-per-node=" + std::to_string(run.tasks_per_node) + "\n";
  for (const auto& option : run.sbatch) s += "#SBATCH " + option + "\n";
  s += "# One lab per task; rank 0 runs on the allocation's first node and serves the rendezvous.\n";
  s += "# A stopped or preempted job resumes when submitted again with --resume in the arguments.\n";
  s += "set -euo pipefail\n";
  s += "cd " + shell_quote(run.workdir.string()) + "\n";
  s += "export MASTER_ADDR=\"$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1)\"\n";
  s += "export MASTER_PORT=\"${MASTER_PORT:-" + std::to_string(run.master_port) + "}\"\n";
  s += "export WORLD_SIZE=\"$SLURM_NTASKS\" LOCAL_WORLD_SIZE=\"$SLURM_NTASKS_PER_NODE\"\n";
  s += "srun --kill-on-bad-exit=1 bash -c 'export RANK=\"$SLURM_PROCID\" LOCAL_RANK=\"$SLURM_LOCALID\"; exec "
       "\"$@\"' lab";
  s += " " + shell_quote(run.program.string());
  for (const auto& word : run.args) s += " " + shell_quote(word);
  s += "\n";
  return s;
}

}  // namespace lab
