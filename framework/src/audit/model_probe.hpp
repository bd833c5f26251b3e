// The exact causality probe of a whole model, every plugin and kernel in place: change the token at
// position j of one row and check that, before j, no logits, no block's attention or MoE output and no
// gradient of the loss on those positions (with respect to the input embeddings and the parameters)
// moves, and that no gradient reaches the embeddings at j and later.
#pragma once

#include "audit/component_probe.hpp"
#include "model/model.hpp"

#include <functional>

namespace lab {

// The model of initialisation `init`, its parameters set (random, or a run's trained weights).
using ModelFactory = std::function<LanguageModel(size_t init)>;

// Runs plan.init_stds.size() initialisations of `make` in sparse stage mode `mode`, on random tokens
// below `vocab`. Auxiliary losses are whole-batch scalars; their changes are noted, not judged.
ChangeLog probe_model(const ModelFactory& make, int64_t vocab, int64_t seq_len, const std::string& mode,
                      const ProbePlan& plan);

}  // namespace lab
