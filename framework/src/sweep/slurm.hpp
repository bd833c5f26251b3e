// A Slurm array script whose tasks run the shards of one sweep.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace lab {

struct SlurmJob {
  std::string job_name;
  int64_t shards = 1;                // array tasks 0..shards-1, one shard each
  std::filesystem::path workdir;     // where run.dir is relative to
  std::filesystem::path log_dir;     // slurm-%A_%a.out files
  std::vector<std::string> command;  // lab sweep ... without --shard (words, quoted when written)
  std::vector<std::string> sbatch;   // extra "#SBATCH" options, e.g. "--gres=gpu:1"
};

std::string slurm_array_script(const SlurmJob& job);

// A word for /bin/sh: single quotes, with '\'' standing for a quote.
std::string shell_quote(const std::string& word);

}  // namespace lab
