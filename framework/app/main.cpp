// lab's command line: `lab --recipe FILE` trains; `lab plugins [NAME]` lists or describes plugins.
#include "commands.hpp"
#include "data/sentencepiece_engine.hpp"
#include "util/blas_core.hpp"
#include "util/system.hpp"

#include <lab/error.hpp>

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <sstream>
#include <string>

namespace {
// One "lab: error:" line per problem, so every line of a multi-problem report reads on its own.
void report(const std::string& message) {
  std::istringstream lines(message);
  std::string line;
  while (std::getline(lines, line)) std::fprintf(stderr, "lab: error: %s\n", line.c_str());
}
}  // namespace

int main(int argc, char** argv) {
  // Before anything else: this may re-execute lab on OpenBLAS's right kernels for this processor.
  lab::ensure_best_blas_core(argv);
  // Debian's LibTorch starts with one thread; use every core unless a recipe says otherwise.
  at::set_num_threads(lab::default_thread_count());
  try {
    lab::tokenizer_choice();  // a bad LAB_TOKENIZER fails now, not after a run folder was made
    return lab::app::dispatch(argc, argv);
  } catch (const lab::InputError& err) {
    report(err.what());
    return 2;
  } catch (const c10::Error& err) {
    const std::string what = err.what_without_backtrace();
    const std::string first_line = what.substr(0, what.find('\n'));
    if (what.find("can't allocate memory") != std::string::npos) {
      // LibTorch's allocator names only the byte count: say what it means for a recipe.
      const auto tried = first_line.find("you tried");
      std::fprintf(stderr,
                   "lab: error: out of memory (%s); lower the model's shape keys or train.batch_size\n",
                   first_line.substr(tried == std::string::npos ? 0 : tried).c_str());
      return 1;
    }
    std::fprintf(stderr, "lab: error: %s\n", first_line.c_str());
    return 1;
  } catch (const std::filesystem::filesystem_error& err) {
    // "PATH: REASON" instead of the library's "filesystem error: cannot ...: REASON [PATH] [PATH]".
    const auto& path = err.path2().empty() ? err.path1() : err.path2();
    std::fprintf(stderr, "lab: error: %s: %s\n", path.c_str(), err.code().message().c_str());
    return 1;
  } catch (const std::exception& err) {
    std::fprintf(stderr, "lab: error: %s\n", err.what());
    return 1;
  }
}
