#include "util/blas_core.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace lab {

namespace {

// Set on the re-executed process, so a core OpenBLAS still refuses cannot restart it again.
constexpr const char* kRestartedMarker = "LAB_BLAS_CORE_RESTARTED";

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

using CoreName = char* (*)();

CoreName openblas_corename() {
  return reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
}

// The file that defines `symbol` in this process, "" when no loaded library does.
std::string library_of(const char* symbol) {
  void* address = dlsym(RTLD_DEFAULT, symbol);
  Dl_info info{};
  if (!address || !dladdr(address, &info) || !info.dli_fname) return "";
  return info.dli_fname;
}

#if defined(__x86_64__)
unsigned long long saved_register_state() {
  unsigned int lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}
#endif

}  // namespace

int core_rank(const std::string& core) {
  static const std::map<std::string, int> ranks = {
      {"katmai", 0},         {"coppermine", 0},  {"northwood", 0},    {"prescott", 0},   {"banias", 0},
      {"atom", 0},           {"core2", 0},       {"penryn", 0},       {"dunnington", 0}, {"nehalem", 0},
      {"athlon", 0},         {"opteron", 0},     {"opteron_sse3", 0}, {"barcelona", 0},  {"nano", 0},
      {"bobcat", 0},         {"sandybridge", 1}, {"bulldozer", 1},    {"piledriver", 1}, {"steamroller", 1},
      {"haswell", 2},        {"excavator", 2},   {"zen", 2},          {"skylakex", 3},   {"cooperlake", 4},
      {"sapphirerapids", 4},
  };
  auto it = ranks.find(lower(core));
  return it == ranks.end() ? -1 : it->second;
}

std::string processor_core() {
#if defined(__x86_64__)
  unsigned int a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return "";
  const bool osxsave = c & (1u << 27), avx = c & (1u << 28), fma = c & (1u << 12);
  if (!osxsave || !avx) return "";
  const unsigned long long xcr0 = saved_register_state();
  if ((xcr0 & 0x6) != 0x6) return "";  // the OS does not save YMM state
  unsigned int b7 = 0, c7 = 0, d7 = 0, a7 = 0;
  if (!__get_cpuid_count(7, 0, &a7, &b7, &c7, &d7)) return "Sandybridge";
  const bool avx2 = b7 & (1u << 5);
  const bool avx512 = (b7 & (1u << 16)) && (b7 & (1u << 17)) && (b7 & (1u << 30)) && (b7 & (1u << 31)) &&
                      (xcr0 & 0xe0) == 0xe0;  // F, DQ, BW, VL, and opmask/ZMM state saved
  if (avx512) {
    unsigned int a71 = 0, b71 = 0, c71 = 0, d71 = 0;
    const bool bf16 = a7 >= 1 && __get_cpuid_count(7, 1, &a71, &b71, &c71, &d71) && (a71 & (1u << 5));
    return bf16 ? "Cooperlake" : "SkylakeX";
  }
  if (avx2 && fma) return "Haswell";
  return "Sandybridge";
#else
  return "";
#endif
}

BlasInfo blas_info() {
  BlasInfo info;
  info.library = library_of("sgemm_");
  if (CoreName name = openblas_corename()) {
    const char* core = name();
    info.core = core ? core : "";
    while (!info.core.empty() && std::isspace(static_cast<unsigned char>(info.core.back())))
      info.core.pop_back();
  }
  info.processor = processor_core();
  if (const char* forced = std::getenv("OPENBLAS_CORETYPE")) info.forced = forced;
  return info;
}

std::string describe(const BlasInfo& info) {
  std::string text = info.core.empty() ? "BLAS (not OpenBLAS)" : "OpenBLAS core " + info.core;
  text += " (processor: " + (info.processor.empty() ? std::string("unknown") : info.processor);
  if (!info.forced.empty()) text += "; OPENBLAS_CORETYPE=" + info.forced;
  return text + "), " + (info.library.empty() ? std::string("library unknown") : info.library);
}

nlohmann::json blas_json() {
  const BlasInfo b = blas_info();
  return {
      {"library", b.library}, {"core", b.core}, {"processor", b.processor}, {"openblas_coretype", b.forced}};
}

void ensure_best_blas_core(char** argv) {
  const bool restarted = std::getenv(kRestartedMarker) != nullptr;
  if (restarted) unsetenv(kRestartedMarker);                   // programs lab starts decide for themselves
  if (!restarted && std::getenv("OPENBLAS_CORETYPE")) return;  // someone chose; respect it, even ""
  const BlasInfo info = blas_info();
  if (info.core.empty() || info.processor.empty()) return;  // not OpenBLAS, or not a known x86-64
  const int have = core_rank(info.core), can = core_rank(info.processor);
  if (have < 0 || have >= can) return;
  if (restarted) {
    std::fprintf(stderr, "lab: warning: OpenBLAS still runs its %s kernels with OPENBLAS_CORETYPE=%s\n",
                 info.core.c_str(), info.processor.c_str());
    return;
  }
  std::fprintf(stderr,
               "lab: OpenBLAS chose its %s kernels on a processor that runs %s; restarting with "
               "OPENBLAS_CORETYPE=%s (set OPENBLAS_CORETYPE to choose another)\n",
               info.core.c_str(), info.processor.c_str(), info.processor.c_str());
  setenv("OPENBLAS_CORETYPE", info.processor.c_str(), 1);
  setenv(kRestartedMarker, "1", 1);
  execv("/proc/self/exe", argv);
  // exec failed (no /proc): carry on with the slower kernels rather than stop.
  unsetenv("OPENBLAS_CORETYPE");
  unsetenv(kRestartedMarker);
}

}  // namespace lab
