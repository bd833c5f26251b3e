#include "tensorboard/proto_writer.hpp"

#include <cstring>

namespace lab {

namespace {
constexpr int kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5;
}

void ProtoWriter::varint(uint64_t value) {
  while (value >= 0x80) {
    out_ += static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  out_ += static_cast<char>(value);
}

void ProtoWriter::little_endian(uint64_t value, int width) {
  for (int n = 0; n < width; ++n) out_ += static_cast<char>((value >> (8 * n)) & 0xff);
}

void ProtoWriter::varint_field(int field, uint64_t value) {
  key(field, kVarint);
  varint(value);
}

void ProtoWriter::double_field(int field, double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  key(field, kFixed64);
  little_endian(bits, 8);
}

void ProtoWriter::float_field(int field, float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  key(field, kFixed32);
  little_endian(bits, 4);
}

void ProtoWriter::bytes_field(int field, std::string_view bytes) {
  key(field, kLengthDelimited);
  varint(bytes.size());
  out_.append(bytes.data(), bytes.size());
}

}  // namespace lab
