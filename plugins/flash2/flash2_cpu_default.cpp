// The CPU kernels for the baseline instruction set.
#define LAB_FLASH2_ISA isa_default
#include "flash2_cpu_isa.hpp"
