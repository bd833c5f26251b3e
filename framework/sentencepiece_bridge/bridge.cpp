// The only code that calls SentencePiece. Built into lab_sentencepiece.so (opened by lab_core) and into
// lab_tokenizer_service (a process of its own); see src/data/sentencepiece_engine.hpp.
//
// Inside a library opened with RTLD_DEEPBIND, std::cerr binds to libstdc++'s own copy, which is not the
// initialised one when the program holds a copy relocation of it. SentencePiece writes to std::cerr only
// to log, so logging is switched off and failures come back through return values.
#include "data/sentencepiece_bridge.hpp"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

namespace {

using sentencepiece::SentencePieceProcessor;

// Above every severity SentencePiece logs at (fatal is 3), so it never touches std::cerr.
constexpr const char* kQuiet = "4";

bool train(std::unordered_map<std::string, std::string> args, std::string* error) {
  args["minloglevel"] = kQuiet;
  const auto status = sentencepiece::SentencePieceTrainer::Train(args);
  if (!status.ok()) *error = status.ToString();
  return status.ok();
}

SentencePieceProcessor* load(const std::string& model_file, std::string* error) {
  auto* processor = new SentencePieceProcessor();
  const auto status = processor->Load(model_file);
  if (status.ok()) return processor;
  *error = status.ToString();
  delete processor;
  return nullptr;
}

void destroy(SentencePieceProcessor* processor) { delete processor; }

bool encode(const SentencePieceProcessor& processor, const std::string& text, std::vector<int>* ids,
            std::string* error) {
  const auto status = processor.Encode(text, ids);
  if (!status.ok()) *error = status.ToString();
  return status.ok();
}

bool decode(const SentencePieceProcessor& processor, const std::vector<int>& ids, std::string* text,
            std::string* error) {
  const auto status = processor.Decode(ids, text);
  if (!status.ok()) *error = status.ToString();
  return status.ok();
}

int piece_size(const SentencePieceProcessor& processor) { return processor.GetPieceSize(); }
int eos_id(const SentencePieceProcessor& processor) { return processor.eos_id(); }

// The trainer's "minloglevel" argument is the one public, version-independent way to set SentencePiece's
// log level; a call without input sets it and then fails harmlessly.
void silence_logging() {
  const std::unordered_map<std::string, std::string> args{{"minloglevel", kQuiet}};
  sentencepiece::SentencePieceTrainer::Train(args).IgnoreError();
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const lab::SentencePieceBridge* lab_sentencepiece_bridge() {
  static const lab::SentencePieceBridge bridge = [] {
    silence_logging();
    return lab::SentencePieceBridge{lab::kBridgeVersion, train, load, destroy, encode, decode,
                                    piece_size,          eos_id};
  }();
  return &bridge;
}
