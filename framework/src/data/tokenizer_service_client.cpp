// The "process" engine: SentencePiece in lab_tokenizer_service, a child process started on first use
// and spoken to over a socket pair (tokenizer_protocol.hpp). posix_spawn, not fork: LibTorch's threads
// may already run, and only spawn-then-exec is safe then.
#include "data/sentencepiece_engine.hpp"
#include "data/tokenizer_protocol.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>

extern char** environ;

namespace lab {
namespace {

namespace wire = tokenizer_protocol;
constexpr const char* kServiceFile = "lab_tokenizer_service";

std::string find_service() {
  if (const char* env = std::getenv("LAB_TOKENIZER_SERVICE"); env && *env) {
    if (::access(env, X_OK) != 0)
      throw std::runtime_error(std::string("tokenizer: LAB_TOKENIZER_SERVICE names ") + env +
                               ", which is not an executable program");
    return env;
  }
  const auto dir = lab_core_directory();
  // The build tree keeps it beside liblab_core.so; an installed lab under libexec/lab.
  for (const auto& candidate : {dir / kServiceFile, dir.parent_path() / "libexec" / "lab" / kServiceFile})
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  throw std::runtime_error(std::string("tokenizer: cannot find ") + kServiceFile + " beside " + dir.string() +
                           " or in " + (dir.parent_path() / "libexec" / "lab").string() +
                           " (LAB_TOKENIZER_SERVICE names it)");
}

// One child process and the socket to it; requests are serialised.
class Connection {
 public:
  Connection() : program_(find_service()) {
    int ends[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0)
      throw std::runtime_error(std::string("tokenizer: socketpair: ") + std::strerror(errno));
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_adddup2(&files, ends[1], 0);
    posix_spawn_file_actions_adddup2(&files, ends[1], 1);
    // Its own process group: a Ctrl-C meant for lab does not stop the service under it; it ends when
    // the socket closes, however lab ends.
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setpgroup(&attributes, 0);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
    char* argv[] = {const_cast<char*>(program_.c_str()), nullptr};
    const int failed = ::posix_spawn(&pid_, program_.c_str(), &files, &attributes, argv, environ);
    posix_spawn_file_actions_destroy(&files);
    posix_spawnattr_destroy(&attributes);
    ::close(ends[1]);
    if (failed != 0) {
      ::close(ends[0]);
      throw std::runtime_error("tokenizer: cannot start " + program_ + ": " + std::strerror(failed));
    }
    fd_ = ends[0];
  }

  ~Connection() {
    ::close(fd_);  // the service reads end-of-file and exits
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends a request written by `send`, then reads the reply with `receive` when it is Ok. A failure's
  // text goes to *error and the result is false.
  template <typename Send, typename Receive>
  bool call(Send send, Receive receive, std::string* error) {
    std::lock_guard<std::mutex> lock(mutex_);
    try {
      send(fd_);
      if (wire::read_value<wire::Reply>(fd_) == wire::Reply::Ok) {
        receive(fd_);
        return true;
      }
      *error = wire::read_string(fd_);
      return false;
    } catch (const wire::Disconnected&) {
      throw std::runtime_error("tokenizer: " + program_ + " (pid " + std::to_string(pid_) + ") " +
                               exit_description());
    }
  }

 private:
  std::string exit_description() {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return "closed its connection";
    if (WIFSIGNALED(status)) return std::string("was killed by signal ") + strsignal(WTERMSIG(status));
    return "exited with status " + std::to_string(WEXITSTATUS(status));
  }

  std::string program_;
  pid_t pid_ = -1;
  int fd_ = -1;
  std::mutex mutex_;
};

class ServiceModel : public SentencePieceModel {
 public:
  ServiceModel(std::shared_ptr<Connection> connection, uint32_t handle, int pieces, int eos)
      : connection_(std::move(connection)), handle_(handle), pieces_(pieces), eos_(eos) {}

  ~ServiceModel() override {
    std::string ignored;
    try {
      connection_->call(
          [&](int fd) {
            wire::write_value(fd, wire::Op::Free);
            wire::write_value(fd, handle_);
          },
          [](int) {}, &ignored);
    } catch (const std::exception&) {
      // A service that has gone away holds no model any more.
    }
  }

  bool encode(const std::string& text, std::vector<int>* ids, std::string* error) const override {
    return connection_->call(
        [&](int fd) {
          wire::write_value(fd, wire::Op::Encode);
          wire::write_value(fd, handle_);
          wire::write_string(fd, text);
        },
        [&](int fd) { *ids = wire::read_ids(fd); }, error);
  }

  bool decode(const std::vector<int>& ids, std::string* text, std::string* error) const override {
    return connection_->call(
        [&](int fd) {
          wire::write_value(fd, wire::Op::Decode);
          wire::write_value(fd, handle_);
          wire::write_ids(fd, ids);
        },
        [&](int fd) { *text = wire::read_string(fd); }, error);
  }

  int piece_size() const override { return pieces_; }
  int eos_id() const override { return eos_; }

 private:
  std::shared_ptr<Connection> connection_;
  uint32_t handle_;
  int pieces_, eos_;
};

class ServiceEngine : public SentencePieceEngine {
 public:
  ServiceEngine() : connection_(std::make_shared<Connection>()) {}

  bool train(const std::unordered_map<std::string, std::string>& args, std::string* error) override {
    return connection_->call(
        [&](int fd) {
          wire::write_value(fd, wire::Op::Train);
          wire::write_value<uint32_t>(fd, static_cast<uint32_t>(args.size()));
          for (const auto& [key, value] : args) {
            wire::write_string(fd, key);
            wire::write_string(fd, value);
          }
        },
        [](int) {}, error);
  }

  std::shared_ptr<SentencePieceModel> load(const std::string& model_file, std::string* error) override {
    uint32_t handle = 0;
    int32_t pieces = 0, eos = 0;
    const bool ok = connection_->call(
        [&](int fd) {
          wire::write_value(fd, wire::Op::Load);
          wire::write_string(fd, model_file);
        },
        [&](int fd) {
          handle = wire::read_value<uint32_t>(fd);
          pieces = wire::read_value<int32_t>(fd);
          eos = wire::read_value<int32_t>(fd);
        },
        error);
    if (!ok) return nullptr;
    return std::make_shared<ServiceModel>(connection_, handle, pieces, eos);
  }

 private:
  std::shared_ptr<Connection> connection_;
};

}  // namespace

std::unique_ptr<SentencePieceEngine> make_service_engine() { return std::make_unique<ServiceEngine>(); }

}  // namespace lab
