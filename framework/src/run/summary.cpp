#include "run/summary.hpp"

#include "run/files.hpp"
#include "util/blas_core.hpp"
#include "util/system.hpp"

#include <lab_build_config.hpp>

#include <stdexcept>

namespace lab {

void write_summary(const std::filesystem::path& file, const RunFacts& f) {
  // A summary states measured figures only; a default-constructed evaluation must never reach it.
  if (!f.final_eval.measured() || f.final_eval.step != f.state.step)
    throw std::logic_error("summary.json: the final evaluation is not of step " +
                           std::to_string(f.state.step));
  const Config& c = *f.config;
  nlohmann::json components = nlohmann::json::object();
  for (const auto& [name, n] : f.counts.by_component) components[name] = n;
  nlohmann::json attention_parts = nlohmann::json::object();
  for (const auto& [name, n] : f.counts.attention_parts) attention_parts[name] = n;
  nlohmann::json plugins = nlohmann::json::object();
  for (const SlotChoice* s : {&c.attention, &c.kernel, &c.rope, &c.router, &c.sparse, &c.dataset})
    plugins[s->section] = s->plugin;
  nlohmann::json j = {
      {"experiment", c.experiment},
      {"variant", c.variant},
      {"seed", c.train.seed},
      {"recipe", std::filesystem::absolute(c.recipe_file).string()},
      {"plugins", plugins},
      {"final",
       {{"val_loss", f.final_eval.loss},
        {"val_accuracy", f.final_eval.accuracy},
        {"val_perplexity", f.final_eval.perplexity},
        {"val_tokens_evaluated", f.final_eval.tokens},
        {"val_documents_evaluated", f.final_eval.documents},
        {"step", f.final_eval.step}}},
      {"val_unigram_entropy", f.corpus->val_unigram_entropy},
      {"data",
       {{"train_documents", f.corpus->train_ids.size()},
        {"val_documents", f.corpus->val_ids.size()},
        {"train_tokens", f.corpus->train_tokens.size()},
        {"val_tokens", f.corpus->val_tokens.size()},
        {"vocab_size", f.corpus->tokenizer.vocab_size()},
        {"tokenizer", f.corpus->tokenizer.model_path().string()}}},
      {"parameters",
       {{"total", f.counts.total},
        {"active_per_token", f.counts.active},
        {"by_component", components},
        {"attention", attention_parts}}},
      {"steps", f.state.step},
      {"tokens_seen", f.state.tokens},
      {"tokens_per_s", f.tokens_per_s},
      {"train_seconds", f.state.train_seconds},
      {"wall_seconds", f.state.wall_seconds},
      {"peak_memory_mb", peak_host_memory_mb()},
      {"memory_kind", "host peak resident set"},
      {"device", f.device},
      {"threads", f.threads},
      {"distributed",
       {{"world_size", f.world_size},
        {"backend", f.backend},
        {"global_batch", f.global_batch},
        {"comm_seconds_per_step", f.comm_seconds_per_step}}},
      {"libtorch", libtorch_version()},
      {"blas", blas_json()},
      {"lab_version", LAB_VERSION},
      {"git_revision", git_revision()},
  };
  if (!f.audit.is_null()) j["audit"] = f.audit;
  write_file_atomic(file, j.dump(2) + "\n");
}

}  // namespace lab
