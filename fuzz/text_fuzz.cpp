// Fuzz target: the text dataset plugin reading one fuzzed .txt file. The first byte's low bit picks
// the split (one document per file or per paragraph); the rest is the file.
#include "dataset_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const char* split = (data[0] & 1) ? "paragraph" : "file";
  lab::fuzz::read_dataset("text", "input.txt", data + 1, size - 1, {{"split", lab::Value::of(split)}});
  return 0;
}
