// A plugin file is checked before dlopen sees it: the loader maps the file's segments and a truncated
// library faults (SIGBUS) when a page past its end is touched, killing lab before any message.
#pragma once

#include <filesystem>
#include <string>

namespace lab {

// Empty when `file` is a whole 64-bit ELF file of this machine's byte order, else what is wrong.
std::string elf_file_problem(const std::filesystem::path& file);

}  // namespace lab
