// lab's command line: `lab --recipe FILE` trains; `lab plugins [NAME]` lists or describes plugins.
#include "commands.hpp"

#include <lab/error.hpp>

#include <c10/util/Exception.h>

#include <cstdio>
#include <exception>
#include <string>

int main(int argc, char** argv) {
  try {
    return lab::app::dispatch(argc, argv);
  } catch (const lab::InputError& err) {
    std::fprintf(stderr, "lab: error: %s\n", err.what());
    return 2;
  } catch (const c10::Error& err) {
    std::fprintf(stderr, "lab: error: %s\n", err.what_without_backtrace());
    return 1;
  } catch (const std::exception& err) {
    std::fprintf(stderr, "lab: error: %s\n", err.what());
    return 1;
  }
}
