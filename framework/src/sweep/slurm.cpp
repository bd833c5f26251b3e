#include "sweep/slurm.hpp"

namespace lab {

std::string shell_quote(const std::string& word) {
  std::string out = "'";
  for (char ch : word) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

std::string slurm_array_script(const SlurmJob& job) {
  std::string s = "#!/bin/bash\n";
  s += "#SBATCH --job-name=" + job.job_name + "\n";
  s += "#SBATCH --array=0-" + std::to_string(job.shards - 1) + "\n";
  s += "#SBATCH --output=" + (job.log_dir / "slurm-%A_%a.out").string() + "\n";
  for (const auto& option : job.sbatch) s += "#SBATCH " + option + "\n";
  s += "# Each array task trains one shard of the sweep; finished runs are skipped and stopped runs\n";
  s += "# resume, so a failed or preempted task can simply be submitted again.\n";
  s += "set -euo pipefail\n";
  s += "cd " + shell_quote(job.workdir.string()) + "\n";
  s += "exec";
  for (const auto& word : job.command) s += " " + shell_quote(word);
  s += " --shard \"${SLURM_ARRAY_TASK_ID}/" + std::to_string(job.shards) + "\"\n";
  return s;
}

}  // namespace lab
