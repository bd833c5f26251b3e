#include "registry/elf_check.hpp"

#include <elf.h>

#include <fstream>
#include <vector>

namespace lab {

namespace {

bool read_at(std::ifstream& in, uint64_t offset, void* out, size_t size) {
  in.seekg(static_cast<std::streamoff>(offset));
  return static_cast<bool>(in.read(static_cast<char*>(out), static_cast<std::streamsize>(size)));
}

// Whether [offset, offset + count * entry) lies inside a file of `size` bytes, without overflow.
bool inside(uint64_t offset, uint64_t count, uint64_t entry, uint64_t size) {
  if (offset > size) return false;
  return entry == 0 || count <= (size - offset) / entry;
}

}  // namespace

std::string elf_file_problem(const std::filesystem::path& file) {
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(file, ec);
  if (ec) return "cannot be read (" + ec.message() + ")";
  std::ifstream in(file, std::ios::binary);
  Elf64_Ehdr header{};
  if (!in || size < sizeof header || !read_at(in, 0, &header, sizeof header))
    return "not a shared library (" + std::to_string(size) + " bytes, too short for an ELF header)";
  if (header.e_ident[EI_MAG0] != ELFMAG0 || header.e_ident[EI_MAG1] != ELFMAG1 ||
      header.e_ident[EI_MAG2] != ELFMAG2 || header.e_ident[EI_MAG3] != ELFMAG3)
    return "not a shared library (no ELF header)";
  if (header.e_ident[EI_CLASS] != ELFCLASS64) return "not a 64-bit shared library";
  if (!inside(header.e_phoff, header.e_phnum, sizeof(Elf64_Phdr), size))
    return "truncated (its program headers end past the file's " + std::to_string(size) + " bytes)";
  if (header.e_shnum > 0 && !inside(header.e_shoff, header.e_shnum, header.e_shentsize, size))
    return "truncated (its section table ends past the file's " + std::to_string(size) + " bytes)";
  for (uint16_t n = 0; n < header.e_phnum; ++n) {
    Elf64_Phdr segment{};
    if (!read_at(in, header.e_phoff + n * sizeof segment, &segment, sizeof segment)) return "cannot be read";
    if (segment.p_type == PT_LOAD && !inside(segment.p_offset, 1, segment.p_filesz, size))
      return "truncated (a segment ends past the file's " + std::to_string(size) + " bytes)";
  }
  return "";
}

}  // namespace lab
