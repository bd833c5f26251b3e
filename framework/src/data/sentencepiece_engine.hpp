// Where SentencePiece runs for lab::Tokenizer.
//
// Debian's libsentencepiece carries a private copy of protobuf 3.14 and exports its symbols; LibTorch
// loads the system libprotobuf (3.21). With both in one symbol scope the process dies while loading (each
// library's protobuf calls land in the other one). Two ways keep them apart:
//  - "in-process": lab_core opens the bridge library lab_sentencepiece.so with RTLD_LOCAL | RTLD_DEEPBIND,
//    so its symbols never mix with LibTorch's. Fast; the default.
//  - "process": the bridge runs in lab_tokenizer_service, a child process that links no LibTorch. For
//    AddressSanitizer builds, whose runtime refuses RTLD_DEEPBIND (google/sanitizers#611), and the default
//    there.
// LAB_TOKENIZER=in-process|process chooses; both give identical pieces and ids.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace lab {

// One loaded tokenizer model. Failures return false with SentencePiece's text in *error.
class SentencePieceModel {
 public:
  virtual ~SentencePieceModel() = default;
  virtual bool encode(const std::string& text, std::vector<int>* ids, std::string* error) const = 0;
  virtual bool decode(const std::vector<int>& ids, std::string* text, std::string* error) const = 0;
  virtual int piece_size() const = 0;
  virtual int eos_id() const = 0;
};

class SentencePieceEngine {
 public:
  virtual ~SentencePieceEngine() = default;
  virtual bool train(const std::unordered_map<std::string, std::string>& args, std::string* error) = 0;
  // Null with *error on failure.
  virtual std::shared_ptr<SentencePieceModel> load(const std::string& model_file, std::string* error) = 0;
};

// "in-process" or "process": LAB_TOKENIZER, or the build's default. Throws lab::InputError for another
// value; lab checks it at start-up, before any run folder exists.
std::string tokenizer_choice();

// The engine LAB_TOKENIZER chooses, made on first use and kept for the process.
SentencePieceEngine& sentencepiece_engine();

// False in AddressSanitizer builds: its runtime refuses the RTLD_DEEPBIND the in-process engine needs.
bool in_process_tokenizer_available();

// Each kind on its own (the tests compare them). Both throw std::runtime_error when their library or
// program cannot be found or started.
std::unique_ptr<SentencePieceEngine> make_in_process_engine();
std::unique_ptr<SentencePieceEngine> make_service_engine();

// The folder liblab_core.so was loaded from; the bridge and the service are installed beside it.
std::filesystem::path lab_core_directory();

}  // namespace lab
