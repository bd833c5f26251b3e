// Fuzz target: the safetensors reader (`lab import`, parity's golden files) on arbitrary bytes.
// Every tensor it returns must hold exactly the bytes its shape and dtype promise.
#include "fuzz_support.hpp"

#include "util/safetensors.hpp"

#include <cstdio>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = lab::fuzz::write_input(lab::fuzz::scratch_dir() / "input.safetensors", data, size);
  lab::fuzz::expect_clean_outcome("safetensors", [&] {
    const lab::SafeTensors read = lab::read_safetensors(file);
    for (const auto& [name, tensor] : read.tensors) {
      const size_t bytes = static_cast<size_t>(tensor.numel()) * tensor.element_size();
      if (!tensor.is_contiguous() || bytes > size) {
        std::fprintf(stderr, "lab fuzz safetensors: tensor %s claims %zu bytes of a %zu-byte file\n",
                     name.c_str(), bytes, size);
        std::abort();
      }
    }
  });
  return 0;
}
