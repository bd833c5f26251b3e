// The test program runs on OpenBLAS's right kernels too, as lab does: every suite (parity and
// gradient checks included) then runs under the core lab would choose on this machine.
#include "util/blas_core.hpp"

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

const bool kBlasCoreChosen = [] {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  for (size_t start = 0; start < all.size();) {
    const size_t end = all.find('\0', start);
    args.push_back(all.substr(start, end - start));
    start = end == std::string::npos ? all.size() : end + 1;
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (!args.empty()) lab::ensure_best_blas_core(argv.data());
  return true;
}();

}  // namespace
