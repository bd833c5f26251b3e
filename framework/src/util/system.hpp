// Facts about the machine and the build that go into summaries.
#pragma once

#include <string>

namespace lab {

double peak_host_memory_mb();  // peak resident set size of this process
std::string git_revision();    // of the source tree lab was built from; "+dirty" when modified
std::string libtorch_version();
int default_thread_count();  // cores available to this process
bool stdout_is_terminal();

}  // namespace lab
