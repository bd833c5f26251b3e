// lab_tokenizer_service: SentencePiece in a process of its own. lab_core starts it with a stream socket on
// standard input and output and sends it requests (src/data/tokenizer_protocol.hpp); it exits when the
// socket closes. It links SentencePiece (and SentencePiece's protobuf) but no LibTorch, so the two
// protobuf copies never meet, without RTLD_DEEPBIND, which AddressSanitizer refuses.
#include "data/sentencepiece_bridge.hpp"
#include "data/tokenizer_protocol.hpp"

#include <cstdint>
#include <map>
#include <memory>

namespace {

namespace wire = lab::tokenizer_protocol;
using Processor = sentencepiece::SentencePieceProcessor;

class Service {
 public:
  explicit Service(const lab::SentencePieceBridge& bridge) : bridge_(bridge) {}
  ~Service() {
    for (auto& [handle, processor] : models_) bridge_.destroy(processor);
  }

  // One request from `in`, its reply to `out`.
  void serve(int in, int out) {
    const auto op = wire::read_value<wire::Op>(in);
    switch (op) {
      case wire::Op::Train:
        return train(in, out);
      case wire::Op::Load:
        return load(in, out);
      case wire::Op::Encode:
        return encode(in, out);
      case wire::Op::Decode:
        return decode(in, out);
      case wire::Op::Free:
        return release(in, out);
    }
    fail(out, "unknown request " + std::to_string(static_cast<int>(op)));
    throw wire::Disconnected{};  // the stream is out of step: stop
  }

 private:
  static void fail(int out, const std::string& message) {
    wire::write_value(out, wire::Reply::Failed);
    wire::write_string(out, message);
  }

  const Processor* model(uint32_t handle) const {
    auto it = models_.find(handle);
    return it == models_.end() ? nullptr : it->second;
  }

  void train(int in, int out) {
    std::unordered_map<std::string, std::string> args;
    for (uint32_t n = wire::read_value<uint32_t>(in); n > 0; --n) {
      std::string key = wire::read_string(in);
      args[key] = wire::read_string(in);
    }
    std::string error;
    if (!bridge_.train(args, &error)) return fail(out, error);
    wire::write_value(out, wire::Reply::Ok);
  }

  void load(int in, int out) {
    std::string error;
    Processor* processor = bridge_.load(wire::read_string(in), &error);
    if (processor == nullptr) return fail(out, error);
    const uint32_t handle = next_handle_++;
    models_[handle] = processor;
    wire::write_value(out, wire::Reply::Ok);
    wire::write_value<uint32_t>(out, handle);
    wire::write_value<int32_t>(out, bridge_.piece_size(*processor));
    wire::write_value<int32_t>(out, bridge_.eos_id(*processor));
  }

  void encode(int in, int out) {
    const uint32_t handle = wire::read_value<uint32_t>(in);
    const std::string text = wire::read_string(in);
    const Processor* processor = model(handle);
    if (processor == nullptr) return fail(out, "no model " + std::to_string(handle));
    std::vector<int> ids;
    std::string error;
    if (!bridge_.encode(*processor, text, &ids, &error)) return fail(out, error);
    wire::write_value(out, wire::Reply::Ok);
    wire::write_ids(out, ids);
  }

  void decode(int in, int out) {
    const uint32_t handle = wire::read_value<uint32_t>(in);
    const std::vector<int> ids = wire::read_ids(in);
    const Processor* processor = model(handle);
    if (processor == nullptr) return fail(out, "no model " + std::to_string(handle));
    std::string text, error;
    if (!bridge_.decode(*processor, ids, &text, &error)) return fail(out, error);
    wire::write_value(out, wire::Reply::Ok);
    wire::write_string(out, text);
  }

  void release(int in, int out) {
    auto it = models_.find(wire::read_value<uint32_t>(in));
    if (it != models_.end()) {
      bridge_.destroy(it->second);
      models_.erase(it);
    }
    wire::write_value(out, wire::Reply::Ok);
  }

  const lab::SentencePieceBridge& bridge_;
  std::map<uint32_t, Processor*> models_;
  uint32_t next_handle_ = 1;
};

}  // namespace

int main() {
  Service service(*lab_sentencepiece_bridge());
  try {
    for (;;) service.serve(0, 1);
  } catch (const wire::Disconnected&) {
  }
  return 0;
}
