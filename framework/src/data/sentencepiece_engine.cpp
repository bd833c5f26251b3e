// The in-process engine (the bridge library opened with RTLD_DEEPBIND) and the LAB_TOKENIZER choice.
#include "data/sentencepiece_engine.hpp"

#include "data/sentencepiece_bridge.hpp"

#include <lab/error.hpp>

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace lab {
namespace {

const SentencePieceBridge& open_bridge() {
  static const SentencePieceBridge* bridge = [] {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("LAB_SENTENCEPIECE_BRIDGE"); env && *env) candidates.emplace_back(env);
    const auto dir = lab_core_directory();
    if (!dir.empty()) candidates.push_back((dir / kBridgeFile).string());
    candidates.emplace_back(kBridgeFile);  // the dynamic loader's own search path
    std::string errors;
    for (const auto& candidate : candidates) {
      void* library = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
      if (library == nullptr) {
        errors += std::string(errors.empty() ? "" : "; ") + dlerror();
        continue;
      }
      using Entry = const SentencePieceBridge* (*)();
      auto entry = reinterpret_cast<Entry>(dlsym(library, kBridgeEntry));
      if (entry != nullptr && entry()->version == kBridgeVersion) return entry();
      errors += (errors.empty() ? "" : "; ") + candidate + ": no compatible " + kBridgeEntry;
    }
    throw std::runtime_error(std::string("tokenizer: cannot load ") + kBridgeFile + " (" + errors + ")");
  }();
  return *bridge;
}

class BridgeModel : public SentencePieceModel {
 public:
  BridgeModel(const SentencePieceBridge& bridge, sentencepiece::SentencePieceProcessor* processor)
      : bridge_(bridge), processor_(processor) {}
  ~BridgeModel() override { bridge_.destroy(processor_); }
  bool encode(const std::string& text, std::vector<int>* ids, std::string* error) const override {
    return bridge_.encode(*processor_, text, ids, error);
  }
  bool decode(const std::vector<int>& ids, std::string* text, std::string* error) const override {
    return bridge_.decode(*processor_, ids, text, error);
  }
  int piece_size() const override { return bridge_.piece_size(*processor_); }
  int eos_id() const override { return bridge_.eos_id(*processor_); }

 private:
  const SentencePieceBridge& bridge_;
  sentencepiece::SentencePieceProcessor* processor_;
};

class BridgeEngine : public SentencePieceEngine {
 public:
  BridgeEngine() : bridge_(open_bridge()) {}
  bool train(const std::unordered_map<std::string, std::string>& args, std::string* error) override {
    return bridge_.train(args, error);
  }
  std::shared_ptr<SentencePieceModel> load(const std::string& model_file, std::string* error) override {
    auto* processor = bridge_.load(model_file, error);
    if (processor == nullptr) return nullptr;
    return std::make_shared<BridgeModel>(bridge_, processor);
  }

 private:
  const SentencePieceBridge& bridge_;
};

// ASan's runtime aborts a dlopen with RTLD_DEEPBIND, so sanitized builds use the service.
constexpr bool kAddressSanitizer =
#if defined(__SANITIZE_ADDRESS__)
    true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    true;
#else
    false;
#endif
#else
    false;
#endif

std::unique_ptr<SentencePieceEngine> make_chosen_engine() {
  if (tokenizer_choice() == "process") return make_service_engine();
  return make_in_process_engine();
}

}  // namespace

std::string tokenizer_choice() {
  const char* env = std::getenv("LAB_TOKENIZER");
  const std::string choice = env && *env ? env : (kAddressSanitizer ? "process" : "in-process");
  if (choice != "in-process" && choice != "process")
    throw InputError("LAB_TOKENIZER: '" + choice + "' is not a tokenizer engine; use in-process or process");
  if (choice == "in-process" && !in_process_tokenizer_available())
    throw InputError(
        "LAB_TOKENIZER: in-process is not available in a build with AddressSanitizer, which refuses "
        "the RTLD_DEEPBIND it needs; use process");
  return choice;
}

std::filesystem::path lab_core_directory() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&lab_core_directory), &info) == 0 || info.dli_fname == nullptr)
    return {};
  return std::filesystem::path(info.dli_fname).parent_path();
}

bool in_process_tokenizer_available() { return !kAddressSanitizer; }

std::unique_ptr<SentencePieceEngine> make_in_process_engine() {
  if (!in_process_tokenizer_available())
    throw std::runtime_error("the in-process tokenizer needs RTLD_DEEPBIND, which AddressSanitizer refuses");
  return std::make_unique<BridgeEngine>();
}

SentencePieceEngine& sentencepiece_engine() {
  static const std::unique_ptr<SentencePieceEngine> engine = make_chosen_engine();
  return *engine;
}

}  // namespace lab
