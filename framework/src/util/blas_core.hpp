// Which BLAS LibTorch calls and, for OpenBLAS, which of its kernel sets ("core") it runs. Debian
// bookworm's OpenBLAS 0.3.21 does not recognise some newer processors and falls back to its SSE3
// (Prescott) kernels, 4-5x slower; lab restarts itself on the right ones.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace lab {

struct BlasInfo {
  std::string library;    // the shared object that provides the BLAS symbols ("" when unknown)
  std::string core;       // OpenBLAS's core, e.g. "Cooperlake"; "" when the BLAS is not OpenBLAS
  std::string processor;  // the newest OpenBLAS x86-64 core this processor runs ("" when unknown)
  std::string forced;     // OPENBLAS_CORETYPE as this process found it ("" when unset)
};

BlasInfo blas_info();
// "OpenBLAS core Cooperlake (processor: Cooperlake), /usr/lib/.../libblas.so.3" for tables and logs.
std::string describe(const BlasInfo& info);
// The same as JSON, for summary.json and benchmark records.
nlohmann::json blas_json();

// OpenBLAS x86-64 core names ranked by the instruction sets their kernels use: 0 SSE-era, 1 AVX,
// 2 AVX2/FMA, 3 AVX-512, 4 AVX-512 with BF16. -1 for a name not in the table. Case-insensitive.
int core_rank(const std::string& core);

// The newest of Sandybridge, Haswell, SkylakeX, Cooperlake that cpuid (and the OS's saved register
// state) allows; "" when none does or the machine is not x86-64.
std::string processor_core();

// Call first in main. When OpenBLAS chose an older core than the processor supports and
// OPENBLAS_CORETYPE is unset, sets it to the processor's core and re-executes the program (the
// variable is read only while the library loads), saying so in one line on stderr. Never overrides a
// value someone set (an empty one included) and does nothing for another BLAS.
void ensure_best_blas_core(char** argv);

}  // namespace lab
