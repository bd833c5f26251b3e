#include "tensorboard/events.hpp"

#include "tensorboard/crc32c.hpp"
#include "tensorboard/proto_writer.hpp"

namespace lab {

namespace {

// Field numbers of event.proto, summary.proto, tensor.proto and types.proto.
enum EventField { kWallTime = 1, kStep = 2, kFileVersion = 3, kSummary = 5 };
enum ValueField { kTag = 1, kSimpleValue = 2, kTensor = 8, kMetadata = 9 };
enum TensorField { kDtype = 1, kShape = 2, kStringVal = 8 };
constexpr int kSummaryValue = 1, kPluginData = 1, kPluginName = 1;
constexpr int kDtString = 7;

ProtoWriter event_head(int64_t step, double wall_time) {
  ProtoWriter event;
  event.double_field(kWallTime, wall_time);
  event.varint_field(kStep, static_cast<uint64_t>(step));
  return event;
}

std::string little_endian(uint64_t value, int width) {
  std::string out;
  for (int n = 0; n < width; ++n) out += static_cast<char>((value >> (8 * n)) & 0xff);
  return out;
}

std::string tag_of(const std::string& key) {
  for (const char* prefix : {"train_", "val_"})
    if (key.rfind(prefix, 0) == 0) {
      const std::string head(prefix);
      return head.substr(0, head.size() - 1) + "/" + key.substr(head.size());
    }
  return "run/" + key;
}

}  // namespace

std::string version_event(double wall_time) {
  ProtoWriter event;
  event.double_field(kWallTime, wall_time);
  event.bytes_field(kFileVersion, "brain.Event:2");
  return event.bytes();
}

std::string scalars_event(int64_t step, double wall_time, const std::vector<Scalar>& scalars) {
  ProtoWriter summary;
  for (const auto& s : scalars) {
    ProtoWriter value;
    value.bytes_field(kTag, s.tag);
    value.float_field(kSimpleValue, static_cast<float>(s.value));
    summary.message_field(kSummaryValue, value);
  }
  ProtoWriter event = event_head(step, wall_time);
  event.message_field(kSummary, summary);
  return event.bytes();
}

std::string text_event(const std::string& tag, const std::string& text, int64_t step, double wall_time) {
  ProtoWriter plugin, metadata, tensor, value, summary;
  plugin.bytes_field(kPluginName, "text");
  metadata.message_field(kPluginData, plugin);
  tensor.varint_field(kDtype, kDtString);
  tensor.message_field(kShape, ProtoWriter{});  // a scalar: no dimensions
  tensor.bytes_field(kStringVal, text);
  value.bytes_field(kTag, tag);
  value.message_field(kMetadata, metadata);
  value.message_field(kTensor, tensor);
  summary.message_field(kSummaryValue, value);
  ProtoWriter event = event_head(step, wall_time);
  event.message_field(kSummary, summary);
  return event.bytes();
}

std::string tfrecord(const std::string& payload) {
  const std::string length = little_endian(payload.size(), 8);
  return length + little_endian(masked_crc32c(length), 4) + payload +
         little_endian(masked_crc32c(payload), 4);
}

std::vector<Scalar> metrics_scalars(const nlohmann::json& line) {
  std::vector<Scalar> scalars;
  for (const auto& [key, value] : line.items()) {
    if (key == "step" || key == "time") continue;
    if (value.is_number()) scalars.push_back(Scalar{tag_of(key), value.get<double>()});
    if (!value.is_object()) continue;
    for (const auto& [name, inner] : value.items())
      if (inner.is_number()) scalars.push_back(Scalar{key + "/" + name, inner.get<double>()});
  }
  return scalars;
}

}  // namespace lab
