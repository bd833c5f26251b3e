// The CPU kernels for AVX2 + FMA (compiled with -mavx2 -mfma, see CMakeLists.txt), used only when the
// processor reports both (see flash2_cpu.cpp).
#define LAB_FLASH2_ISA isa_avx2
#include "flash2_cpu_isa.hpp"
