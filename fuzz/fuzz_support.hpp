// Shared by the fuzz targets: a private scratch folder, the input written to a file there, and the
// rule every target checks: bad input may only fail as lab::InputError (exit 2 with one clear line in
// the real program); any other exception, a crash or a sanitizer report is a finding.
#pragma once

#include <lab/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

namespace lab::fuzz {

// A folder of this process's own, made once and removed at exit.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::string pattern = (std::filesystem::temp_directory_path() / "lab-fuzz.XXXXXX").string();
    if (!mkdtemp(pattern.data())) {
      std::perror("lab fuzz: mkdtemp");
      std::abort();
    }
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(scratch_dir(), ignored);
    });
    return std::filesystem::path(pattern);
  }();
  return dir;
}

inline std::filesystem::path write_input(const std::filesystem::path& file, const uint8_t* data,
                                         size_t size) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) {
    std::fprintf(stderr, "lab fuzz: cannot write %s\n", file.c_str());
    std::abort();
  }
  return file;
}

// How many inputs were accepted and how many rejected with an InputError (the replay program reports it).
inline size_t accepted_inputs = 0;
inline size_t rejected_inputs = 0;

// Runs `action`; an InputError is the expected outcome for bad input, anything else aborts.
template <typename Action>
void expect_clean_outcome(const char* target, Action action) {
  try {
    action();
    ++accepted_inputs;
  } catch (const lab::InputError& e) {
    ++rejected_inputs;
    if (std::getenv("LAB_FUZZ_VERBOSE")) std::fprintf(stderr, "  rejected: %s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lab fuzz %s: not an InputError: %s\n", target, e.what());
    std::abort();
  }
}

}  // namespace lab::fuzz
