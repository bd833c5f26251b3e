// The table of functions lab_sentencepiece.so exports. It is shared by the library's two users: lab_core,
// which opens the library in its own process, and lab_tokenizer_service, which links it into a process of
// its own (see sentencepiece_engine.hpp for why there are two).
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace lab {

// Errors come back as text in *error with a false / null result: SentencePiece reports through status
// values, and exceptions must not cross a library opened with RTLD_DEEPBIND.
struct SentencePieceBridge {
  int version;
  bool (*train)(std::unordered_map<std::string, std::string> args, std::string* error);
  sentencepiece::SentencePieceProcessor* (*load)(const std::string& model_file, std::string* error);
  void (*destroy)(sentencepiece::SentencePieceProcessor* processor);
  bool (*encode)(const sentencepiece::SentencePieceProcessor& processor, const std::string& text,
                 std::vector<int>* ids, std::string* error);
  bool (*decode)(const sentencepiece::SentencePieceProcessor& processor, const std::vector<int>& ids,
                 std::string* text, std::string* error);
  int (*piece_size)(const sentencepiece::SentencePieceProcessor& processor);
  int (*eos_id)(const sentencepiece::SentencePieceProcessor& processor);
};

constexpr int kBridgeVersion = 1;
constexpr const char* kBridgeEntry = "lab_sentencepiece_bridge";
constexpr const char* kBridgeFile = "lab_sentencepiece.so";

}  // namespace lab

extern "C" const lab::SentencePieceBridge* lab_sentencepiece_bridge();
