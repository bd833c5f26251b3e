// Fuzz target: the jsonl dataset plugin reading one fuzzed .jsonl file.
#include "dataset_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lab::fuzz::read_dataset("jsonl", "input.jsonl", data, size);
  return 0;
}
