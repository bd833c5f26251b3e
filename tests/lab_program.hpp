// Runs the built lab program for command-line tests: exit code and merged output.
#pragma once

#include <lab_build_config.hpp>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace lab::test {

struct ProgramOutcome {
  int code = -1;
  std::string output;
};

inline ProgramOutcome run_lab(const std::string& args) {
  std::string command = std::string(LAB_PROGRAM) + " " + args + " 2>&1";
  ProgramOutcome out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return out;
  std::array<char, 512> buffer{};
  while (fgets(buffer.data(), buffer.size(), pipe)) out.output += buffer.data();
  int status = pclose(pipe);
  out.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

}  // namespace lab::test
