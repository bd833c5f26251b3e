// Exact causality checks of a recipe's plugins one slot at a time. Each plugin runs with trusted
// stand-ins for the others (lab::reference_attention as the kernel, no rotation as the RoPE), so a
// failure names the plugin that lets positions see later ones.
#pragma once

#include "audit/component_probe.hpp"

#include <string>

namespace lab {

struct Config;

ChangeLog probe_kernel(const Config& config, const ProbePlan& plan);
ChangeLog probe_rope(const Config& config, const ProbePlan& plan);
ChangeLog probe_attention(const Config& config, const ProbePlan& plan);
// The sparse plugin in stage mode `mode` (set_mode), with the recipe's RoPE when it asks for one.
ChangeLog probe_sparse(const Config& config, const std::string& mode, const ProbePlan& plan);
ChangeLog probe_router(const Config& config, const ProbePlan& plan);

}  // namespace lab
