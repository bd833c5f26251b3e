// summary.json: final metrics, parameter counts, timings, memory and provenance of one run.
#pragma once

#include "data/corpus.hpp"
#include "eval/evaluate.hpp"
#include "model/model.hpp"
#include "recipe/config.hpp"
#include "train/checkpoint.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>

namespace lab {

struct RunFacts {
  const Config* config = nullptr;
  const Corpus* corpus = nullptr;
  ParameterCounts counts;
  TrainingState state;
  EvalResult final_eval;
  std::string device;
  int threads = 0;
  double tokens_per_s = 0;
  nlohmann::json audit;  // {"data": ..., "causality": ...} from the audit at the start of the run
  // Data parallelism: ranks, c10d backend ("none" for one process), sequences per optimizer step over
  // all ranks, and the mean seconds per step spent waiting for communication.
  int world_size = 1;
  std::string backend = "none";
  int64_t global_batch = 0;
  double comm_seconds_per_step = 0;
};

void write_summary(const std::filesystem::path& file, const RunFacts& facts);

}  // namespace lab
