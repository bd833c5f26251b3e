// TensorBoard's Event records (tensorflow/core/util/event.proto, summary.proto) in TFRecord framing.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace lab {

struct Scalar {
  std::string tag;
  double value = 0;
};

// The Event payloads (serialized protobufs).
std::string version_event(double wall_time);  // file_version "brain.Event:2", first in every file
std::string scalars_event(int64_t step, double wall_time, const std::vector<Scalar>& scalars);
std::string text_event(const std::string& tag, const std::string& text, int64_t step, double wall_time);

// One TFRecord: length, masked CRC of the length, payload, masked CRC of the payload.
std::string tfrecord(const std::string& payload);

// Every number of a metrics.jsonl line as a TensorBoard scalar: "train_loss" -> "train/loss",
// "val_accuracy" -> "val/accuracy", nested objects -> "aux_losses/NAME", "stats/NAME", the rest
// (lr, tokens_per_s, wall_s, ...) -> "run/KEY". The step and the clock time are the event's own.
std::vector<Scalar> metrics_scalars(const nlohmann::json& line);

}  // namespace lab
