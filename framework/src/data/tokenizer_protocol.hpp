// The wire format between lab_core and lab_tokenizer_service: one request, then one reply, over a
// stream socket. Integers are native-endian (both ends are the same build on the same machine); strings
// and id lists are a uint32 length followed by their bytes. Header-only: the service links no LibTorch.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

namespace lab::tokenizer_protocol {

enum class Op : uint8_t { Train = 1, Load = 2, Encode = 3, Decode = 4, Free = 5 };
enum class Reply : uint8_t { Ok = 0, Failed = 1 };

// A closed or broken connection; the caller turns it into its own message.
struct Disconnected {};

// MSG_NOSIGNAL: a peer that has gone away is an error to report, not a SIGPIPE that kills the program.
inline void write_bytes(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::send(fd, p, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Disconnected{};
    p += n;
    size -= static_cast<size_t>(n);
  }
}

inline void read_bytes(int fd, void* data, size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Disconnected{};
    p += n;
    size -= static_cast<size_t>(n);
  }
}

template <typename T>
void write_value(int fd, T value) {
  write_bytes(fd, &value, sizeof value);
}

template <typename T>
T read_value(int fd) {
  T value{};
  read_bytes(fd, &value, sizeof value);
  return value;
}

inline void write_string(int fd, const std::string& text) {
  write_value<uint32_t>(fd, static_cast<uint32_t>(text.size()));
  write_bytes(fd, text.data(), text.size());
}

inline std::string read_string(int fd) {
  std::string text(read_value<uint32_t>(fd), '\0');
  read_bytes(fd, text.data(), text.size());
  return text;
}

inline void write_ids(int fd, const std::vector<int>& ids) {
  write_value<uint32_t>(fd, static_cast<uint32_t>(ids.size()));
  write_bytes(fd, ids.data(), ids.size() * sizeof(int));
}

inline std::vector<int> read_ids(int fd) {
  std::vector<int> ids(read_value<uint32_t>(fd));
  read_bytes(fd, ids.data(), ids.size() * sizeof(int));
  return ids;
}

}  // namespace lab::tokenizer_protocol
