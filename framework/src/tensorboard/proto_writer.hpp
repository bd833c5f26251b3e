// A small protocol-buffer wire-format encoder: enough to write TensorBoard's Event messages
// without TensorFlow (which Debian does not package) or generated classes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace lab {

class ProtoWriter {
 public:
  void varint_field(int field, uint64_t value);  // int64, enum and bool fields
  void double_field(int field, double value);
  void float_field(int field, float value);
  void bytes_field(int field, std::string_view bytes);  // strings, bytes and embedded messages
  void message_field(int field, const ProtoWriter& message) { bytes_field(field, message.bytes()); }

  const std::string& bytes() const { return out_; }

 private:
  void key(int field, int wire_type) { varint(static_cast<uint64_t>(field) << 3 | wire_type); }
  void varint(uint64_t value);
  void little_endian(uint64_t value, int width);

  std::string out_;
};

}  // namespace lab
