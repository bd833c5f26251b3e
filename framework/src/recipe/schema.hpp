// The core's recipe keys: their types, defaults and meaning.
#pragma once

#include <lab/options.hpp>
#include <lab/plugin.hpp>

#include <string>
#include <vector>

namespace lab {

struct SlotSection {
  const char* section;
  Slot slot;
  const char* default_plugin;  // "none" for optional slots
};

const std::vector<SlotSection>& slot_sections();
// Keys written as "section.key". Slot sections hold `plugin` here; their plugin's keys join them.
const std::vector<KeySpec>& core_keys();
// Keys of one [[train.stages]] table; defaults of "" or 0 mean "inherit from [train]".
const std::vector<KeySpec>& stage_keys();
// Parameter groups a stage may name.
const std::vector<std::string>& parameter_groups();

}  // namespace lab
